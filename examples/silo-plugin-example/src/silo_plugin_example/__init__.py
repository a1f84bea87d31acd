"""Example silo plugin: the task EX-1, the protocol `postbox` and the scripted team `relay`."""
