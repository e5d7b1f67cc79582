"""Trusted judgement: the checks, in order, the client that talks to the sandbox for them,
the diagnosis of BPTT bugs, the audit of training, the points. Everything judged here is
computed from arrays the sandbox sent back and were validated on arrival."""
