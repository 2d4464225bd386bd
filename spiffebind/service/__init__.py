"""The daemon's use cases (issue, revoke, verify, reload) over the pure core and the state.

Nothing here knows about gRPC: servicers translate messages and errors, these modules decide.
"""
