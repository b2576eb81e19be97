from flyte_ls.cli import main

raise SystemExit(main())
