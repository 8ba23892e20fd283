"""The `ladder` command: the dispatcher and one module per subcommand."""
