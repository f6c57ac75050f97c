"""One module per tab of the main screen; each wires one capability to its widgets."""
