from watertel.shell.cli import main

raise SystemExit(main())
