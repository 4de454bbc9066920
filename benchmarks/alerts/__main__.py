from benchmarks.alerts.run import main

raise SystemExit(main())
