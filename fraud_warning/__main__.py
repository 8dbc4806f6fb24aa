from fraud_warning.cli import main

raise SystemExit(main())
