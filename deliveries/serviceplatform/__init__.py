"""A local stand-in for KOMBIT's Serviceplatform SFTP service (`manage.py serviceplatform`).

`routing` decides what happens to a trigger file, `server` is the SSH/SFTP server around it,
`errors` is the table of refusal codes. docs/design/serviceplatform-standin.md describes how to
run it.
"""
