#include "datapath/xdp_loader.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <initializer_list>
#include <system_error>

#include "bpf/brisk_xdp_abi.h"
#include "datapath/bpf_objects.hpp"
#include "datapath/port.hpp"

namespace brisk {

namespace {

[[noreturn]] void fail(int err, const std::string& what) {
  throw std::system_error(err, std::generic_category(), what);
}

// libbpf returns -errno, or -1 with errno set; normalise to a positive errno.
int err_of(int rc) { return rc < -1 ? -rc : (errno != 0 ? errno : EINVAL); }

}  // namespace

std::string xdp_object_path(const std::string& requested, const std::string& who) {
  std::string path = requested;
  if (path.empty()) {
    BpfObjectSearch found = search_bpf_object(kXdpObject);
    if (!found.found()) fail(ENOENT, who + ": " + found.error());
    path = found.path;
  }
  if (::access(path.c_str(), R_OK) != 0) fail(errno, who + ": cannot read XDP object " + path);
  return path;
}

XdpObject::XdpObject(const std::string& path, const std::string& who) : path_(path), who_(who) {
  errno = 0;
  obj_ = bpf_object__open_file(path.c_str(), nullptr);
  if (obj_ == nullptr) fail(err_of(-1), who + ": open XDP object " + path);
}

XdpObject::~XdpObject() {
  if (obj_ != nullptr) bpf_object__close(obj_);
}

bpf_program* XdpObject::program(const char* name) const {
  return bpf_object__find_program_by_name(obj_, name);
}

int XdpObject::program_fd(const char* name) const {
  bpf_program* p = program(name);
  return p != nullptr ? bpf_program__fd(p) : -1;
}

int XdpObject::map_fd(const char* name) const {
  bpf_map* m = bpf_object__find_map_by_name(obj_, name);
  return m != nullptr ? bpf_map__fd(m) : -1;
}

void XdpObject::prepare(const XdpPrograms& programs, const XdpSharedMaps* shared) {
  struct Want {
    const char* name;
    bool load;
    bool required;
  };
  // An older object may lack the generic entry point (the native one serves then).
  const Want wants[] = {{BRISK_XDP_PROG_NAME, programs.xdp, true},
                        {BRISK_XDP_GENERIC_PROG_NAME, programs.xdp, false},
                        {BRISK_TC_PROG_NAME, programs.tc, false},
                        {BRISK_SOCK_PROG_NAME, programs.sock, false},
                        {BRISK_DEVMAP_PROG_NAME, programs.tracepoint, programs.tracepoint}};
  for (const Want& w : wants) {
    bpf_program* p = program(w.name);
    if (p == nullptr && w.load && w.required)
      fail(ENOENT, who_ + ": " + path_ + " lacks program " + w.name);
    if (p != nullptr) bpf_program__set_autoload(p, w.load);
  }
  if (shared == nullptr) return;
  for (int i = 0; i < kXdpSharedMaps; ++i) {
    bpf_map* m = bpf_object__find_map_by_name(obj_, kXdpSharedMapNames[i]);
    if (m == nullptr) fail(ENOENT, who_ + ": " + path_ + " lacks map " + kXdpSharedMapNames[i]);
    if (int rc = bpf_map__reuse_fd(m, shared->fds[static_cast<std::size_t>(i)]); rc != 0)
      fail(err_of(rc), who_ + ": reuse the XDP fast path's maps");
  }
}

void XdpObject::load() {
  errno = 0;
  if (int rc = bpf_object__load(obj_); rc != 0)
    fail(err_of(rc), who_ + ": load XDP program from " + path_);
}

bool XdpAttachment::native() const { return flags == XDP_FLAGS_DRV_MODE; }

XdpAttachment xdp_attach(const XdpObject& obj, const std::string& ifname, int ifindex, XdpMode mode,
                         const std::string& who) {
  XdpAttachment a;
  a.ifindex = ifindex;
  if (mode == XdpMode::kAuto && device_driver(ifname) == "veth") mode = XdpMode::kGeneric;
  int native_err = 0;
  if (mode != XdpMode::kGeneric) {
    const int fd = obj.program_fd(BRISK_XDP_PROG_NAME);
    int rc = bpf_xdp_attach(ifindex, fd, XDP_FLAGS_DRV_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST, nullptr);
    if (rc == 0) {
      a.prog_fd = fd;
      a.flags = XDP_FLAGS_DRV_MODE;
      return a;
    }
    native_err = err_of(rc);
  }
  if (native_err == EBUSY || native_err == EEXIST)
    fail(EBUSY, who + ": the device already has an XDP program attached");
  if (mode == XdpMode::kNative) fail(native_err, who + ": native XDP attach");
  // The generic entry point (no frags: see bpf/brisk_xdp.c); an older object has only one.
  int fd = obj.program_fd(BRISK_XDP_GENERIC_PROG_NAME);
  if (fd < 0) fd = obj.program_fd(BRISK_XDP_PROG_NAME);
  int rc = bpf_xdp_attach(ifindex, fd, XDP_FLAGS_SKB_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST, nullptr);
  if (rc != 0) {
    int e = err_of(rc);
    if (e == EBUSY || e == EEXIST)
      fail(EBUSY, who + ": the device already has an XDP program attached");
    fail(e, who + ": XDP attach (native: " +
                std::string(native_err != 0 ? std::strerror(native_err) : "not tried") +
                "; generic)");
  }
  a.prog_fd = fd;
  a.flags = XDP_FLAGS_SKB_MODE;
  return a;
}

void xdp_detach(XdpAttachment& a) noexcept {
  if (a.flags == 0) return;
  // Only if our program is still the one attached (XDP_FLAGS_REPLACE with old_prog_fd). Fails
  // harmlessly when the device is gone.
  bpf_xdp_attach_opts o{};
  o.sz = sizeof(o);
  o.old_prog_fd = a.prog_fd;
  bpf_xdp_detach(a.ifindex, a.flags | XDP_FLAGS_REPLACE, &o);
  a.flags = 0;
}

TcAttachment tc_attach(int ifindex, int prog_fd) noexcept {
  TcAttachment a;
  a.ifindex = ifindex;
  if (prog_fd < 0) return a;
  bpf_tc_hook hook{};
  hook.sz = sizeof(hook);
  hook.ifindex = ifindex;
  hook.attach_point = BPF_TC_INGRESS;
  const int made = bpf_tc_hook_create(&hook);  // -EEXIST: a clsact qdisc is there already
  if (made != 0 && made != -EEXIST) return a;
  bpf_tc_opts o{};
  o.sz = sizeof(o);
  o.prog_fd = prog_fd;
  o.handle = kTcHandle;
  o.priority = kTcPriority;
  if (bpf_tc_attach(&hook, &o) != 0) {
    if (made == 0) {
      hook.attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS);
      bpf_tc_hook_destroy(&hook);
    }
    return a;
  }
  a.handle = o.handle;
  a.priority = o.priority;
  a.made_qdisc = made == 0;
  a.attached = true;
  return a;
}

void tc_detach(TcAttachment& a) noexcept {
  if (!a.attached) return;
  bpf_tc_hook hook{};
  hook.sz = sizeof(hook);
  hook.ifindex = a.ifindex;
  hook.attach_point = BPF_TC_INGRESS;
  bpf_tc_opts o{};
  o.sz = sizeof(o);
  o.handle = a.handle;
  o.priority = a.priority;
  bpf_tc_detach(&hook, &o);  // fails harmlessly when the device is gone
  if (a.made_qdisc) {
    hook.attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS);
    bpf_tc_hook_destroy(&hook);
  }
  a.attached = false;
}

namespace {

// The kernel keeps the first BPF_OBJ_NAME_LEN - 1 characters of a program's name.
bool prog_named(int fd, std::initializer_list<const char*> names) {
  bpf_prog_info info{};
  __u32 len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) return false;
  for (const char* name : names)
    if (std::strncmp(info.name, name, sizeof(info.name) - 1) == 0) return true;
  return false;
}

bool detach_stale_xdp(int ifindex) {
  bool detached = false;
  for (int mode : {XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE}) {
    __u32 id = 0;
    if (bpf_xdp_query_id(ifindex, mode, &id) != 0 || id == 0) continue;
    int fd = bpf_prog_get_fd_by_id(id);
    if (fd < 0) continue;
    if (prog_named(fd, {BRISK_XDP_PROG_NAME, BRISK_XDP_GENERIC_PROG_NAME})) {
      bpf_xdp_attach_opts o{};
      o.sz = sizeof(o);
      o.old_prog_fd = fd;
      if (bpf_xdp_detach(ifindex, mode | XDP_FLAGS_REPLACE, &o) == 0) detached = true;
    }
    ::close(fd);
  }
  return detached;
}

bool detach_stale_tc(int ifindex) {
  bpf_tc_hook hook{};
  hook.sz = sizeof(hook);
  hook.ifindex = ifindex;
  hook.attach_point = BPF_TC_INGRESS;
  bpf_tc_opts o{};
  o.sz = sizeof(o);
  o.handle = kTcHandle;
  o.priority = kTcPriority;
  if (bpf_tc_query(&hook, &o) != 0 || o.prog_id == 0) return false;  // no such filter
  const int fd = bpf_prog_get_fd_by_id(o.prog_id);
  if (fd < 0) return false;
  const bool ours = prog_named(fd, {BRISK_TC_PROG_NAME});
  ::close(fd);
  if (!ours) return false;
  bpf_tc_opts d{};
  d.sz = sizeof(d);
  d.handle = kTcHandle;
  d.priority = kTcPriority;
  return bpf_tc_detach(&hook, &d) == 0;
}

}  // namespace

bool detach_stale_brisk_xdp(const std::string& ifname) {
  const int ifindex = static_cast<int>(::if_nametoindex(ifname.c_str()));
  return ifindex != 0 && detach_stale_xdp(ifindex);
}

bool detach_stale_brisk_programs(const std::string& ifname) {
  const int ifindex = static_cast<int>(::if_nametoindex(ifname.c_str()));
  if (ifindex == 0) return false;
  const bool xdp = detach_stale_xdp(ifindex);
  const bool tc = detach_stale_tc(ifindex);
  return xdp || tc;
}

}  // namespace brisk
