from .cli_entry import main

main()
