#!/bin/sh
# rinit's demo: runs a small job under rinit that leaves orphans behind (rinit reaps
# them) and keeps two workers busy; press Ctrl+C and watch rinit stop the workers,
# children before parents, and exit. Usage: demo/run.sh [PATH-TO-RINIT]
RINIT=${1:-target/release/rinit}
exec "$RINIT" -- sh -c '
  echo "demo: I am the main command, pid $$. Making 3 orphans that exit at once..."
  for i in 1 2 3; do ( sh -c "exit 0" & ); done
  for w in 1 2; do
    sh -c "trap \"echo demo: worker $w got SIGINT/SIGTERM, cleaning up; sleep 0.5; echo demo: worker $w done; exit 0\" INT TERM
           while :; do sleep 1 & wait \$!; done" &
  done
  echo "demo: two workers running. Press Ctrl+C to stop."
  trap "echo demo: main got its stop signal; wait; exit 0" INT TERM
  while :; do sleep 1 & wait $!; done
'
