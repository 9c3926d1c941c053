import re,sys,collections
t0=None
runnable={}
bins=collections.defaultdict(list)  # 10ms bin -> delays (ms)
events=[]
gstate={}
rx=re.compile(r'^M=\S+ P=\S+ G=(\S+) (\S+) Time=(\d+)(.*)$')
for line in open('x10.parsed'):
    if not line.startswith('M='): continue
    m=rx.match(line)
    if not m: continue
    g,kind,t,rest=m.groups(); t=int(t)
    if t0 is None: t0=t
    ms=(t-t0)/1e6
    if kind=='StateTransition':
        mm=re.search(r'GoID=(\d+) (\w+)->(\w+)',rest)
        if not mm: continue
        gid,a,b=mm.groups()
        if b=='Runnable': runnable[gid]=ms
        elif b=='Running' and gid in runnable:
            d=ms-runnable.pop(gid); bins[int(ms//10)].append(d)
        if gid=='30' and b=='Running': events.append((ms,'flush-goroutine runs'))
        if gid=='28' and a=='Running' and b=='Syscall': gstate['sys']=ms
        if gid=='28' and a=='Syscall' and b!='Syscall' and 'sys' in gstate:
            d=ms-gstate.pop('sys')
            if d>5: events.append((ms,'committer syscall ended, %.1f ms'%d))
    elif kind=='RangeBegin' and 'GC concurrent mark' in rest: events.append((ms,'GC mark begins'))
    elif kind=='RangeEnd' and 'GC concurrent mark' in rest: events.append((ms,'GC mark ends'))
ev=sorted(events)
# print per 50ms: p99-ish and max of scheduling delay, with events
nb=max(bins)+1
for b5 in range(0,nb,5):
    ds=[d for b in range(b5,b5+5) for d in bins.get(b,[])]
    if not ds: continue
    ds.sort(); mx=ds[-1]; p99=ds[int(len(ds)*0.99)]; n=len(ds)
    e=[x[1] for x in ev if b5*10<=x[0]<(b5+5)*10]
    flag='#' if p99>5 else ' '
    print('%s %7.0f ms  n=%5d  p99 %6.2f  max %6.2f  %s'%(flag,b5*10,n,p99,mx,'; '.join(e)))
