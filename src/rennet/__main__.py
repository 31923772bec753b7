from rennet.cli.main import main

raise SystemExit(main())
