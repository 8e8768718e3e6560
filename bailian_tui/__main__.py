import sys

from bailian_tui.cli import main

sys.exit(main())
