#include "zenith/operator/scheduler/snapshot.h"

namespace zenith::operator_::scheduler {

Resources& Resources::operator+=(const Resources& o) {
  gpus += o.gpus;
  cpu_millis += o.cpu_millis;
  memory_bytes += o.memory_bytes;
  pods += o.pods;
  return *this;
}

Resources& Resources::operator-=(const Resources& o) {
  gpus -= o.gpus;
  cpu_millis -= o.cpu_millis;
  memory_bytes -= o.memory_bytes;
  pods -= o.pods;
  return *this;
}

Resources operator*(Resources r, int64_t n) {
  r.gpus *= n;
  r.cpu_millis *= n;
  r.memory_bytes *= n;
  r.pods *= n;
  return r;
}

}  // namespace zenith::operator_::scheduler
