"""Payment providers behind one adapter interface, and the payment activities."""
