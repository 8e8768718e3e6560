import sys

from bailian_tui.tui.cli import main

sys.exit(main())
