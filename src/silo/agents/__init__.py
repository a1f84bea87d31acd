"""Agents: scripted reference teams and LLM agents share the `take_turn(turn)` contract."""
