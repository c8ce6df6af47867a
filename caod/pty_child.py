"""A child process in a pseudo-terminal, read and reaped through the event loop.

Output: the PTY master is non-blocking and registered with `loop.add_reader`,
so there is no thread and no polling loop per agent. Exit: a pidfd (Linux)
becomes readable when the child dies; where pidfds are missing, the PTY's EOF
triggers a reap in a worker thread.

Start: ptyprocess forks, then blocks until the child has exec'd (it reads the
exec-error pipe), tens of milliseconds on a busy machine. `PtyChild.launch` runs
that in a spawner thread so many spawns overlap and the loop keeps serving the
agents already running; the child is attached to the loop once it runs.
"""

from __future__ import annotations

import asyncio
import errno
import os
import signal
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import ptyprocess

from caod import fdlimit

# Bounded so one flooding agent yields the loop to the others between reads.
READ_SIZE = 32768
# Spawns that wait for their child's exec at once. The fork itself holds the GIL; the wait
# does not, and it is most of a spawn's time when many CLIs start together.
SPAWN_THREADS = 8
_spawner: ThreadPoolExecutor | None = None


def _start_process(argv: list[str], cwd: str, env: dict[str, str], rows: int, cols: int) -> ptyprocess.PtyProcess:
    """Fork and exec `argv` in a new PTY (blocking: in a spawner thread, or at start-up).
    The child closes every inherited fd but its PTY before exec (ptyprocess), so PTYs and
    files other threads open meanwhile never leak into it."""
    # ptyprocess resolves argv[0] against our PATH; resolve it against the
    # agent's PATH instead so --env PATH=... works as people expect.
    path = env.get("PATH", os.defpath)
    exe = argv[0] if os.sep in argv[0] else (_which(argv[0], path) or argv[0])
    return ptyprocess.PtyProcess.spawn([exe, *argv[1:]], cwd=cwd, env=env, dimensions=(rows, cols),
                                       preexec_fn=fdlimit.restore_in_child)


def _end_orphan(fut: "asyncio.Future[ptyprocess.PtyProcess]") -> None:
    """A child whose spawn call was cancelled: nobody will read or reap it."""
    if fut.cancelled() or fut.exception() is not None:
        return
    proc = fut.result()
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    if _spawner is not None:
        _spawner.submit(proc.close, True)  # closes its PTY and reaps it; it sleeps, so not on the loop


class PtyChild:
    def __init__(
        self,
        argv: list[str],
        cwd: str,
        env: dict[str, str],
        rows: int,
        cols: int,
        on_output: Callable[[bytes], None],
        on_exit: Callable[[int | None, int | None], None],
        process: ptyprocess.PtyProcess | None = None,
    ):
        """Start `argv` now (blocking the loop), or attach `process` that `launch` started."""
        self._loop = asyncio.get_running_loop()
        self._on_output = on_output
        self._on_exit = on_exit
        self._proc = process if process is not None else _start_process(argv, cwd, env, rows, cols)
        self.pid: int = self._proc.pid
        self.fd: int = self._proc.fd
        self.exit_code: int | None = None
        self.exit_signal: int | None = None
        self.exited = asyncio.Event()
        self._eof = False
        self._reaped = False
        os.set_blocking(self.fd, False)
        self._loop.add_reader(self.fd, self._readable)
        self._pidfd: int | None = None
        try:
            self._pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            self._pidfd = None
        if self._pidfd is not None:
            self._loop.add_reader(self._pidfd, self._child_died)
        self._kill_timer: asyncio.TimerHandle | None = None
        # The write queue (see write()): chunks not yet taken by the PTY, and
        # callbacks waiting for a byte count to be reached.
        self._queue: deque[memoryview] = deque()
        self._marks: deque[tuple[int, Callable[[], None]]] = deque()
        self._queued = 0
        self._written = 0
        self._waiting_for_room = False

    @classmethod
    async def launch(cls, argv: list[str], cwd: str, env: dict[str, str], rows: int, cols: int,
                     on_output: Callable[[bytes], None],
                     on_exit: Callable[[int | None, int | None], None]) -> "PtyChild":
        """Start `argv` in a spawner thread, then attach it to the loop. OSError if it cannot start."""
        global _spawner
        if _spawner is None:
            _spawner = ThreadPoolExecutor(SPAWN_THREADS, thread_name_prefix="caod-spawn")
        loop = asyncio.get_running_loop()
        fut = loop.run_in_executor(_spawner, _start_process, argv, cwd, env, rows, cols)
        try:
            process = await asyncio.shield(fut)
        except asyncio.CancelledError:
            fut.add_done_callback(_end_orphan)
            raise
        return cls(argv, cwd, env, rows, cols, on_output, on_exit, process)

    # ------------------------------------------------------------ output

    def _readable(self) -> None:
        try:
            data = os.read(self.fd, READ_SIZE)
        except BlockingIOError:
            return
        except OSError as e:  # EIO: the slave side is closed (child gone)
            if e.errno not in (errno.EIO, errno.EBADF):
                raise
            data = b""
        if data:
            self._on_output(data)
            return
        self._stop_reading()
        if self._pidfd is None and not self._reaped:
            self._loop.run_in_executor(None, self._blocking_reap)

    def _stop_reading(self) -> None:
        if not self._eof:
            self._eof = True
            self._loop.remove_reader(self.fd)

    def _drain(self) -> None:
        """Read what the child wrote before it died (it may still be buffered)."""
        while not self._eof:
            try:
                data = os.read(self.fd, READ_SIZE)
            except (BlockingIOError, OSError):
                break
            if not data:
                break
            self._on_output(data)
        self._stop_reading()

    # ------------------------------------------------------------ exit

    def _child_died(self) -> None:
        assert self._pidfd is not None
        self._loop.remove_reader(self._pidfd)
        os.close(self._pidfd)
        self._pidfd = None
        try:
            _, status = os.waitpid(self.pid, 0)  # the pidfd says it is dead: no wait
        except ChildProcessError:
            status = 0
        self._finish(status)

    def _blocking_reap(self) -> None:
        try:
            _, status = os.waitpid(self.pid, 0)
        except ChildProcessError:
            status = 0
        self._loop.call_soon_threadsafe(self._finish, status)

    def _finish(self, status: int) -> None:
        if self._reaped:
            return
        self._reaped = True
        if os.WIFSIGNALED(status):
            self.exit_signal = os.WTERMSIG(status)
        else:
            self.exit_code = os.WEXITSTATUS(status)
        if self._kill_timer:
            self._kill_timer.cancel()
        self._drain()
        self._drop_queue()
        self._close_fd()
        self.exited.set()
        self._on_exit(self.exit_code, self.exit_signal)

    def _close_fd(self) -> None:
        # Tell ptyprocess it is closed, or its __del__ would sleep and re-kill.
        self._proc.closed = True
        self._proc.terminated = True
        try:  # through the file object that owns the fd: closed behind its back, it would
            # close the number again when collected, by then another agent's PTY
            self._proc.fileobj.close()
        except OSError:
            pass

    # ------------------------------------------------------------ control

    def write(self, data: bytes) -> None:
        """Queue `data` behind everything written before it, and write what the PTY takes.

        One ordered queue per child: a PTY takes a few KiB at once, and whatever
        does not fit waits for room (add_writer) with every later write behind it,
        so a paste, its end marker and the submit key arrive whole and in order.
        """
        if self._reaped:
            raise ProcessLookupError("the agent process has exited")
        if not data:
            return
        self._queue.append(memoryview(data))
        self._queued += len(data)
        if not self._waiting_for_room:
            self._flush()

    @property
    def unwritten(self) -> int:
        """Bytes queued that the PTY has not taken yet."""
        return self._queued - self._written

    def when_written(self, callback: Callable[[], None]) -> None:
        """Call `callback` once everything queued so far has reached the PTY
        (soon, if it already has). Dropped if the child exits first."""
        if self._written >= self._queued:
            self._loop.call_soon(callback)
        else:
            self._marks.append((self._queued, callback))

    def _flush(self) -> None:
        while self._queue:
            head = self._queue[0]
            try:
                n = os.write(self.fd, head)
            except BlockingIOError:
                n = 0
            except OSError as e:  # EIO: the child is gone; nothing queued can arrive
                if e.errno not in (errno.EIO, errno.EBADF):
                    raise
                self._drop_queue()
                return
            self._written += n
            if n < len(head):
                self._queue[0] = head[n:]
                if not self._waiting_for_room:
                    self._waiting_for_room = True
                    self._loop.add_writer(self.fd, self._flush)
                self._run_marks()
                return
            self._queue.popleft()
        if self._waiting_for_room:
            self._waiting_for_room = False
            self._loop.remove_writer(self.fd)
        self._run_marks()

    def _run_marks(self) -> None:
        while self._marks and self._marks[0][0] <= self._written:
            self._loop.call_soon(self._marks.popleft()[1])

    def _drop_queue(self) -> None:
        if self._waiting_for_room:
            self._waiting_for_room = False
            self._loop.remove_writer(self.fd)
        self._queue.clear()
        self._marks.clear()

    def resize(self, rows: int, cols: int) -> None:
        if not self._reaped:
            self._proc.setwinsize(rows, cols)  # the kernel sends SIGWINCH

    def signal(self, sig: int) -> None:
        """Signal the child's whole process group (it leads its own session)."""
        if self._reaped:
            return
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    async def terminate(self, grace: float) -> None:
        """SIGTERM, then SIGKILL if it is still alive after `grace` seconds."""
        if self._reaped:
            return
        self.signal(signal.SIGTERM)
        self._kill_timer = self._loop.call_later(grace, self.signal, signal.SIGKILL)
        await self.exited.wait()


def _which(name: str, path: str) -> str | None:
    for folder in path.split(os.pathsep):
        candidate = os.path.join(folder or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None
