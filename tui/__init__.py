"""The triton-deck application: screens, panels, bindings and the CLI that opens them."""
