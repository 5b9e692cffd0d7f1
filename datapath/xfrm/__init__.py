"""XFRM over netlink: the structs and constants of ``linux/xfrm.h`` as pyroute2
message classes, fast encoders for the hot messages, and the socket.

``constants``   XFRM_MSG_*, XFRMA_* and friends, spelled as in the header
``structs``     one class per embedded or attribute struct
``messages``    one class per message struct, and the marshal
``convert``     Cygnet's kernel objects to and from message fields
``fastpath``    precompiled encoders for policy messages
``socket``      the NETLINK_XFRM socket and its batched exchange
"""
