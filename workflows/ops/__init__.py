"""Operations workflows and their schedules: outages, hold clean-up, outbound dispatch."""
