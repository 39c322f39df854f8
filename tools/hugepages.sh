# Hugepage reservation for the vhost-user test and benchmark (sourced: tests/integration/vhost.sh,
# bench/vhost_pps.sh). 2 MiB pages, /proc/sys/vm/nr_hugepages.
#   hugepages_reserve N  make N pages free, adding to the pool only what is missing; sets
#                        HUGEPAGES_ADDED (what the kernel really added); fails if N are not free
#   hugepages_release    take back HUGEPAGES_ADDED only: another run that reserved pages
#                        meanwhile keeps them (writing back the old absolute value would not)
HUGEPAGES_ADDED=0
hugepages_free() { awk '/^HugePages_Free:/ {print $2}' /proc/meminfo; }
hugepages_reserve() {
  local want=$1 before
  if (($(hugepages_free) < want)); then
    before=$(cat /proc/sys/vm/nr_hugepages)
    echo $((before + want - $(hugepages_free))) >/proc/sys/vm/nr_hugepages || true
    HUGEPAGES_ADDED=$(($(cat /proc/sys/vm/nr_hugepages) - before))
  fi
  (($(hugepages_free) >= want))
}
hugepages_release() {
  local cur
  ((HUGEPAGES_ADDED > 0)) || return 0
  cur=$(cat /proc/sys/vm/nr_hugepages)
  echo $((cur > HUGEPAGES_ADDED ? cur - HUGEPAGES_ADDED : 0)) >/proc/sys/vm/nr_hugepages
  HUGEPAGES_ADDED=0
}
