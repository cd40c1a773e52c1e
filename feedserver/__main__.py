from feedserver.cli import main

main()
