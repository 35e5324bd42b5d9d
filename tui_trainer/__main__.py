from tui_trainer.cli import main

main()
