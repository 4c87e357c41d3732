"""The charging-station queue: who gets which pad, when, and what each session delivered."""
