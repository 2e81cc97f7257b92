"""What a privacy officer configures: the column catalog, hierarchies and the typed policy spec."""
