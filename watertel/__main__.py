from watertel.cli import main

raise SystemExit(main())
