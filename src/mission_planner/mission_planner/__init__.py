"""The mission planner node: plans, dispatches and flies missions; runs the charging queue."""
