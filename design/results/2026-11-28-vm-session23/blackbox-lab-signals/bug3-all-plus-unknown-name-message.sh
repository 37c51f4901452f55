#!/bin/bash
# Minor: 'all' followed by a name that is not a map at all is reported as "'all' already
# includes 'bogus'" (false, and without the accepted names); the same word first gives
# "unknown name 'bogus' (accepted: ...)". Exit status is 2 and the message is one line in both.
B=${B:-/tmp/target-labbb/release/hmap-lab}
for list in all,bogus bogus,all all,HMAP; do
  $B grow --maps "$list" --out /tmp/labbb-bug3; echo "  -> rc=$?"
done
$B stress --map all,Sync --out /tmp/labbb-bug3; echo "  -> rc=$?"
