"""Study settings: the YAML schema, where profiles live, and the typed params they load into."""
