from flowerstudio.cli import main

raise SystemExit(main())
