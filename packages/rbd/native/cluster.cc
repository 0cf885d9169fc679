// Cluster (rados_t) and Pool (rados_ioctx_t) handles. Every call that may wait on
// the network runs on the thread pool through PromiseWorker.
#include <cstring>

#include "common.h"

namespace storerbd {

Counters counters;

Napi::Error ErrnoError(Napi::Env env, const std::string& operation, int rc) {
  const int code = rc < 0 ? -rc : rc;
  Napi::Error error = Napi::Error::New(env, operation + ": " + std::strerror(code));
  error.Set("errno", Napi::Number::New(env, code));
  error.Set("operation", Napi::String::New(env, operation));
  return error;
}

static Napi::Value Reject(Napi::Env env, const std::string& message) {
  Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(env);
  deferred.Reject(Napi::Error::New(env, message).Value());
  return deferred.Promise();
}

// ---- Cluster ----

Napi::Function Cluster::Init(Napi::Env env) {
  return DefineClass(env, "Cluster",
                     {
                         InstanceMethod<&Cluster::Connect>("connect"),
                         InstanceMethod<&Cluster::Fsid>("fsid"),
                         InstanceMethod<&Cluster::ConfGet>("confGet"),
                         InstanceMethod<&Cluster::Shutdown>("shutdown"),
                     });
}

Cluster::Cluster(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Cluster>(info) {}

Cluster::~Cluster() {
  // Only reached when JS dropped a connected cluster without shutdown(); no pool can
  // be open (each pool keeps its cluster object alive).
  if (cluster_ != nullptr && state_ == State::Connected) {
    rados_shutdown(cluster_);
    counters.clusters--;
    counters.finalized++;
  }
}

// connect(confFile: string, user: string, mountTimeoutSeconds: number,
//         opTimeoutSeconds?: number): Promise<void>
Napi::Value Cluster::Connect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (state_ != State::Idle) return Reject(env, "cluster: connect() may be called once");
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsString() || !info[2].IsNumber() ||
      (info.Length() > 3 && !info[3].IsNumber() && !info[3].IsUndefined()))
    return Reject(env, "cluster: connect(confFile, user, timeoutSeconds, opTimeoutSeconds?) expected");
  std::string conf = info[0].As<Napi::String>();
  std::string user = info[1].As<Napi::String>();
  int64_t timeout = info[2].As<Napi::Number>().Int64Value();
  int64_t opTimeout = info.Length() > 3 && info[3].IsNumber() ? info[3].As<Napi::Number>().Int64Value() : 0;
  state_ = State::Connecting;
  auto* worker = new PromiseWorker(
      env, "rados_create",
      [this, conf, user, timeout, opTimeout](std::string& op) {
        rados_t cluster = nullptr;
        int rc = rados_create(&cluster, user.empty() ? nullptr : user.c_str());
        if (rc < 0) return rc;
        op = "reading the Ceph configuration";
        rc = rados_conf_read_file(cluster, conf.empty() ? nullptr : conf.c_str());
        // The driver keeps every write buffer alive and unchanged until its completion,
        // and reads and writes whole chunks itself. Without librbd's cache a write
        // completes only once the OSDs have it, so librbd may send our buffer as is
        // instead of copying it on the JS thread (zero-copy is unsafe with the cache,
        // which acknowledges writes still in flight).
        if (rc == 0) {
          op = "setting rbd_cache";
          rc = rados_conf_set(cluster, "rbd_cache", "false");
        }
        if (rc == 0) {
          op = "setting rbd_disable_zero_copy_writes";
          rc = rados_conf_set(cluster, "rbd_disable_zero_copy_writes", "false");
        }
        if (rc == 0 && timeout > 0) {
          op = "setting client_mount_timeout";
          rc = rados_conf_set(cluster, "client_mount_timeout", std::to_string(timeout).c_str());
        }
        // Without these, an operation on a stopped OSD or monitor waits forever.
        if (rc == 0 && opTimeout > 0) {
          op = "setting rados_osd_op_timeout";
          rc = rados_conf_set(cluster, "rados_osd_op_timeout", std::to_string(opTimeout).c_str());
        }
        if (rc == 0 && opTimeout > 0) {
          op = "setting rados_mon_op_timeout";
          rc = rados_conf_set(cluster, "rados_mon_op_timeout", std::to_string(opTimeout).c_str());
        }
        if (rc == 0) {
          op = "connecting to the Ceph cluster";
          rc = rados_connect(cluster);
        }
        if (rc < 0) {
          rados_shutdown(cluster);
          return rc;
        }
        cluster_ = cluster;
        return 0;
      },
      nullptr,
      [this](int rc) {
        if (rc < 0) {
          state_ = State::Closed;
        } else {
          state_ = State::Connected;
          counters.clusters++;
        }
      });
  worker->Keep(Value());
  return worker->Start();
}

Napi::Value Cluster::Fsid(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (state_ != State::Connected) {
    Napi::Error::New(env, "cluster: not connected").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  char fsid[64] = {0};
  int rc = rados_cluster_fsid(cluster_, fsid, sizeof(fsid) - 1);
  if (rc < 0) {
    ErrnoError(env, "rados_cluster_fsid", rc).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::String::New(env, fsid);
}

Napi::Value Cluster::ConfGet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (state_ != State::Connected || info.Length() < 1 || !info[0].IsString()) {
    Napi::Error::New(env, "cluster: confGet(name) needs a connected cluster")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string name = info[0].As<Napi::String>();
  char value[4096] = {0};
  int rc = rados_conf_get(cluster_, name.c_str(), value, sizeof(value) - 1);
  if (rc < 0) return env.Null();
  return Napi::String::New(env, value);
}

Napi::Value Cluster::Shutdown(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (state_ != State::Connected) {
    Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(env);
    deferred.Resolve(env.Undefined());
    return deferred.Promise();
  }
  if (open_pools > 0) return Reject(env, "cluster: shutdown() with pools still open");
  state_ = State::Closing;
  rados_t cluster = cluster_;
  auto* worker = new PromiseWorker(
      env, "rados_shutdown",
      [cluster](std::string&) {
        rados_shutdown(cluster);
        return 0;
      },
      nullptr,
      [this](int) {
        cluster_ = nullptr;
        state_ = State::Closed;
        counters.clusters--;
      });
  worker->Keep(Value());
  return worker->Start();
}

// ---- Pool ----

Napi::Function Pool::Init(Napi::Env env) {
  return DefineClass(env, "Pool",
                     {
                         InstanceMethod<&Pool::Open>("open"),
                         InstanceMethod<&Pool::Close>("close"),
                         InstanceMethod<&Pool::CreateImage>("createImage"),
                         InstanceMethod<&Pool::RemoveImage>("removeImage"),
                         InstanceMethod<&Pool::ListImages>("listImages"),
                     });
}

// new Pool(cluster)
Pool::Pool(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Pool>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    Napi::TypeError::New(env, "new Pool(cluster) expected").ThrowAsJavaScriptException();
    return;
  }
  Napi::Object object = info[0].As<Napi::Object>();
  cluster_ = Cluster::Unwrap(object);
  if (cluster_ == nullptr) return;
  cluster_ref_ = Napi::Persistent(object);
}

Pool::~Pool() {
  if (ioctx_ != nullptr) {
    rados_ioctx_destroy(ioctx_);
    counters.pools--;
    counters.finalized++;
    if (cluster_ != nullptr) cluster_->open_pools--;
  }
}

void Pool::Release() {
  if (ioctx_ == nullptr) return;
  rados_ioctx_destroy(ioctx_);
  ioctx_ = nullptr;
  counters.pools--;
  cluster_->open_pools--;
}

// open(poolName: string): Promise<void>
Napi::Value Pool::Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (state_ != State::Idle) return Reject(env, "pool: open() may be called once");
  if (cluster_ == nullptr || !cluster_->connected())
    return Reject(env, "pool: the cluster is not connected");
  if (info.Length() < 1 || !info[0].IsString()) return Reject(env, "pool: open(name) expected");
  std::string name = info[0].As<Napi::String>();
  state_ = State::Opening;
  cluster_->open_pools++;
  rados_t cluster = cluster_->handle();
  auto* worker = new PromiseWorker(
      env, "opening pool",
      [this, cluster, name](std::string&) {
        rados_ioctx_t ioctx = nullptr;
        int rc = rados_ioctx_create(cluster, name.c_str(), &ioctx);
        if (rc == 0) ioctx_ = ioctx;
        return rc;
      },
      nullptr,
      [this](int rc) {
        if (rc < 0) {
          state_ = State::Closed;
          cluster_->open_pools--;
        } else {
          state_ = State::Open;
          counters.pools++;
        }
      });
  worker->Keep(Value());
  return worker->Start();
}

// close(): void — rados_ioctx_destroy only drops references, it does not wait on I/O.
Napi::Value Pool::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (state_ != State::Open) return env.Undefined();
  if (open_images > 0 || busy > 0) {
    Napi::Error::New(env, "pool: close() with images open or calls in flight")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Release();
  state_ = State::Closed;
  return env.Undefined();
}

// createImage(name: string, size: number, order: number, features: number): Promise<void>
Napi::Value Pool::CreateImage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (state_ != State::Open) return Reject(env, "pool: not open");
  if (info.Length() < 4 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsNumber() ||
      !info[3].IsNumber())
    return Reject(env, "pool: createImage(name, size, order, features) expected");
  std::string name = info[0].As<Napi::String>();
  uint64_t size = static_cast<uint64_t>(info[1].As<Napi::Number>().Int64Value());
  int order = info[2].As<Napi::Number>().Int32Value();
  uint64_t features = static_cast<uint64_t>(info[3].As<Napi::Number>().Int64Value());
  rados_ioctx_t ioctx = ioctx_;
  busy++;
  auto* worker = new PromiseWorker(
      env, "rbd_create2",
      [ioctx, name, size, order, features](std::string&) {
        int o = order;
        return rbd_create2(ioctx, name.c_str(), size, features, &o);
      },
      nullptr, [this](int) { busy--; });
  worker->Keep(Value());
  return worker->Start();
}

// removeImage(name: string): Promise<void>
Napi::Value Pool::RemoveImage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (state_ != State::Open) return Reject(env, "pool: not open");
  if (info.Length() < 1 || !info[0].IsString()) return Reject(env, "pool: removeImage(name) expected");
  std::string name = info[0].As<Napi::String>();
  rados_ioctx_t ioctx = ioctx_;
  busy++;
  auto* worker = new PromiseWorker(
      env, "rbd_remove", [ioctx, name](std::string&) { return rbd_remove(ioctx, name.c_str()); },
      nullptr, [this](int) { busy--; });
  worker->Keep(Value());
  return worker->Start();
}

// listImages(): Promise<string[]> — the names of the pool's images (rbd_list2).
Napi::Value Pool::ListImages(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (state_ != State::Open) return Reject(env, "pool: not open");
  rados_ioctx_t ioctx = ioctx_;
  auto names = std::make_shared<std::vector<std::string>>();
  busy++;
  auto* worker = new PromiseWorker(
      env, "rbd_list2",
      [ioctx, names](std::string&) {
        std::vector<rbd_image_spec_t> specs;
        size_t max = 64;
        int rc;
        for (;;) {
          specs.resize(max);
          rc = rbd_list2(ioctx, specs.data(), &max);
          if (rc != -ERANGE) break;
        }
        if (rc < 0) return rc;
        for (size_t i = 0; i < max; i++) names->emplace_back(specs[i].name);
        rbd_image_spec_list_cleanup(specs.data(), max);
        return 0;
      },
      [names](Napi::Env env, int) {
        Napi::Array array = Napi::Array::New(env, names->size());
        for (size_t i = 0; i < names->size(); i++) array.Set(i, Napi::String::New(env, (*names)[i]));
        return array;
      },
      [this](int) { busy--; });
  worker->Keep(Value());
  return worker->Start();
}

}  // namespace storerbd
