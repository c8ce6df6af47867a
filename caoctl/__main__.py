from caoctl.cli import main

main()
