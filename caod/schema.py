"""The database's tables and their migrations (caod.store runs `prepare` on every connect)."""

from __future__ import annotations

import aiosqlite

SCHEMA_VERSION = 3
SCHEMA = """
CREATE TABLE IF NOT EXISTS agents (
    id TEXT PRIMARY KEY,
    name TEXT,
    provider TEXT NOT NULL,
    cwd TEXT NOT NULL,
    command TEXT NOT NULL,
    pid INTEGER,
    status TEXT NOT NULL,
    status_since REAL NOT NULL,
    created_at REAL NOT NULL,
    rows INTEGER NOT NULL,
    cols INTEGER NOT NULL,
    exit_code INTEGER,
    exit_signal INTEGER,
    transcript TEXT,
    session TEXT,
    profile TEXT,
    role TEXT,
    parent TEXT,
    spec TEXT,  -- JSON: how to launch it again after a daemon restart
    -- What stays queryable once it exits (caod.exited): why it holds its status, the
    -- last answer and the screen (at each completed turn and at exit), the scrollback.
    reason TEXT,
    last_answer TEXT,
    screen TEXT,
    history TEXT
);
CREATE TABLE IF NOT EXISTS sessions (
    name TEXT PRIMARY KEY,
    cwd TEXT NOT NULL,
    created_at REAL NOT NULL,
    ended_at REAL,
    supervisor TEXT,
    env TEXT  -- JSON: environment every agent of the session gets
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    sender TEXT NOT NULL,
    receiver TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,  -- pending | delivered | acknowledged
    created_at REAL NOT NULL,
    delivered_at REAL,
    taken_at REAL  -- the receiver's turn with it started (after a crash: typed, or not)
);
CREATE INDEX IF NOT EXISTS messages_pending ON messages(receiver, status, id);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    kind TEXT NOT NULL,
    agent TEXT NOT NULL,
    old TEXT,
    new TEXT,
    signal TEXT,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS events_by_agent ON events(agent, seq);
-- Workers' git worktrees (caod.worktrees); a row stays until worktree.clean removes the worktree.
CREATE TABLE IF NOT EXISTS worktrees (
    agent TEXT PRIMARY KEY,
    session TEXT NOT NULL,
    parent TEXT,
    repo TEXT NOT NULL,  -- the repository folder whose checked-out branch a merge goes into
    path TEXT NOT NULL,
    branch TEXT NOT NULL,
    base TEXT NOT NULL,  -- the commit it was made from
    created_at REAL NOT NULL,
    merged_tip TEXT  -- the worker's commit last merged: a squash leaves no ancestry to find it by
);
CREATE TABLE IF NOT EXISTS results (  -- each ended turn of a worker (caod.results)
    id INTEGER PRIMARY KEY,
    agent TEXT NOT NULL,
    parent TEXT NOT NULL,
    ended TEXT NOT NULL,  -- completed | error | exited
    output TEXT,
    ended_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS results_by_agent ON results(agent, id);
-- Notes kept across sessions (caod.memory); memories_fts indexes them for recall (BM25).
CREATE TABLE IF NOT EXISTS memories (
    id INTEGER PRIMARY KEY,
    scope TEXT NOT NULL,  -- agent | session | project | global
    owner TEXT NOT NULL,  -- the profile, the session, the project's folder; '' for global
    key TEXT NOT NULL,
    content TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '',  -- space-separated
    source TEXT,  -- the agent that stored it, or 'user'
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    UNIQUE (scope, owner, key)
);
CREATE VIRTUAL TABLE IF NOT EXISTS memories_fts USING fts5(
    key, content, tags, content='memories', content_rowid='id', tokenize='porter unicode61');
CREATE TRIGGER IF NOT EXISTS memories_ai AFTER INSERT ON memories BEGIN
    INSERT INTO memories_fts(rowid, key, content, tags) VALUES (new.id, new.key, new.content, new.tags);
END;
CREATE TRIGGER IF NOT EXISTS memories_ad AFTER DELETE ON memories BEGIN
    INSERT INTO memories_fts(memories_fts, rowid, key, content, tags)
        VALUES ('delete', old.id, old.key, old.content, old.tags);
END;
CREATE TRIGGER IF NOT EXISTS memories_au AFTER UPDATE ON memories BEGIN
    INSERT INTO memories_fts(memories_fts, rowid, key, content, tags)
        VALUES ('delete', old.id, old.key, old.content, old.tags);
    INSERT INTO memories_fts(rowid, key, content, tags) VALUES (new.id, new.key, new.content, new.tags);
END;
-- Workers that owe their parent a report (caod.notices.owed); a row goes with its exit.
CREATE TABLE IF NOT EXISTS owed_reports (
    worker TEXT PRIMARY KEY,
    owes INTEGER NOT NULL,
    turn_from TEXT  -- the sender of the message its current turn took
);
-- Notification sinks and their outbox (caod.notify): each matching event is a row until sent.
CREATE TABLE IF NOT EXISTS notify_sinks (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,  -- webhook | desktop | command
    config TEXT NOT NULL,  -- JSON: url and format, or argv and timeout
    secret TEXT,  -- webhook HMAC key (the db file is 0600); never sent to a client
    events TEXT NOT NULL,  -- the filter, as given (caod.notify.filters)
    created_at REAL NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0,  -- failed attempts in a row
    last_error TEXT,
    last_error_at REAL,
    last_sent_at REAL
);
CREATE TABLE IF NOT EXISTS notify_outbox (
    id INTEGER PRIMARY KEY,
    sink INTEGER NOT NULL,
    payload TEXT NOT NULL,  -- the event as JSON, as it is sent
    created_at REAL NOT NULL,
    sent_at REAL
);
CREATE INDEX IF NOT EXISTS notify_outbox_unsent ON notify_outbox(sink, sent_at, id);
-- Scheduled flows (caod.flows): the file as added, and the latest slot dealt with.
CREATE TABLE IF NOT EXISTS flows (
    name TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    text TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    added_at REAL NOT NULL,
    handled_until REAL NOT NULL  -- slots up to this time were run, skipped or missed: the next is after it
);
CREATE TABLE IF NOT EXISTS flow_runs (
    id INTEGER PRIMARY KEY,
    flow TEXT NOT NULL,
    trigger TEXT NOT NULL,  -- schedule | missed | manual
    due REAL,
    started_at REAL NOT NULL,
    outcome TEXT NOT NULL,  -- launched | completed | skipped | failed
    reason TEXT,
    session TEXT,
    agent TEXT,
    answer TEXT,
    ended_at REAL
);
CREATE INDEX IF NOT EXISTS flow_runs_by_flow ON flow_runs(flow, id);
"""

# Workflow runs (caod.workflows): each run, and each step's input, output, agent and times.
WORKFLOW_SCHEMA = """
CREATE TABLE IF NOT EXISTS workflow_runs (
    id TEXT PRIMARY KEY, workflow TEXT NOT NULL, definition TEXT NOT NULL, task TEXT NOT NULL,
    participants TEXT NOT NULL, agents TEXT NOT NULL, cwd TEXT NOT NULL, handover INTEGER NOT NULL,
    step_timeout REAL NOT NULL, status TEXT NOT NULL, reason TEXT, created_at REAL NOT NULL, ended_at REAL
);
CREATE TABLE IF NOT EXISTS workflow_steps (
    run TEXT NOT NULL, idx INTEGER NOT NULL, name TEXT NOT NULL, role TEXT NOT NULL, participant INTEGER NOT NULL,
    status TEXT NOT NULL, agent TEXT, provider TEXT, input TEXT, output TEXT, error TEXT,
    started_at REAL, ended_at REAL, handover TEXT, PRIMARY KEY (run, idx)
);
-- Each handoff, assign and message in a session, for its export (caod.handover.sessions).
CREATE TABLE IF NOT EXISTS session_turns (
    id INTEGER PRIMARY KEY, session TEXT NOT NULL, kind TEXT NOT NULL, sender TEXT NOT NULL, receiver TEXT NOT NULL,
    text TEXT NOT NULL, answer TEXT, note TEXT, at REAL NOT NULL
);
"""

# Batches committed so far, compared with the mark file at start.
META = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
COUNT_COMMIT = "INSERT INTO meta (key, value) VALUES ('commits', ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value"
NEWEST_MESSAGE = "SELECT COALESCE(MAX(id), 0) FROM messages"


async def prepare(db: aiosqlite.Connection) -> int:
    """Create what is missing, migrate, commit; returns the count of batches committed so far."""
    version = (await db.execute_fetchall("PRAGMA user_version"))[0][0]
    await db.executescript(SCHEMA + WORKFLOW_SCHEMA + META)
    if 0 < version < 2:  # v1 databases lack the orchestration columns
        for column in ("session", "profile", "role", "parent", "spec"):
            await db.execute(f"ALTER TABLE agents ADD COLUMN {column} TEXT")
    if 0 < version < 3:  # v2 databases lack what an exited agent is queried by
        for column in ("reason", "last_answer", "screen", "history"):
            await db.execute(f"ALTER TABLE agents ADD COLUMN {column} TEXT")
    sessions = {row[1] for row in await db.execute_fetchall("PRAGMA table_info(sessions)")}
    if "handover" not in sessions:  # added with handover files (off for sessions from before)
        await db.execute("ALTER TABLE sessions ADD COLUMN handover INTEGER NOT NULL DEFAULT 0")
    columns = {row[1] for row in await db.execute_fetchall("PRAGMA table_info(messages)")}
    if "taken_at" not in columns:  # added after v2 shipped
        await db.execute("ALTER TABLE messages ADD COLUMN taken_at REAL")
    await db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    await db.commit()
    rows = await db.execute_fetchall("SELECT value FROM meta WHERE key='commits'")
    return int(rows[0][0]) if rows else 0
