-- Development config for scripts/run (Knot Resolver 5 syntax).
net.listen('127.0.0.1', 5353)
modules.load('nsid')
nsid.name(worker.id)
