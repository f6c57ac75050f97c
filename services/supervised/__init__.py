"""What a local job and a local app's replicas share: processes that triton-deck supervises
on this machine. Whether their supervisor is there (`presence`), the clean environment they
get (`environment`), the token their servers want (`token`), their private files and logs
(`files`) and their volumes synced in from local buckets (`volumes`). Jobs and apps both
import from here; neither borrows the other's internals."""
