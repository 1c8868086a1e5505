from camera2mqtt.cli import main

raise SystemExit(main())
