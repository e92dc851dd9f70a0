from borderx.cli import main

raise SystemExit(main())
