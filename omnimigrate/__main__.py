from omnimigrate.cli import main

main()
