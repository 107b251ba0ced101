"""Pure business rules that read no database: risk scoring, return destinations, when an
order refuses a change. Each is unit-tested on its own."""
