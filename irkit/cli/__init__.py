"""The command line: parse, call the core, print. No business logic lives here."""
