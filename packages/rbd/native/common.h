// Shared pieces of the binding: handle counters, errno errors and a promise-returning
// AsyncWorker that runs one blocking librados/librbd call on the libuv thread pool.
#pragma once

#include <napi.h>
#include <rados/librados.h>
#include <rbd/librbd.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace storerbd {

// Open handles, process-wide, so tests can prove nothing leaks.
struct Counters {
  std::atomic<int64_t> clusters{0};
  std::atomic<int64_t> pools{0};
  std::atomic<int64_t> images{0};
  std::atomic<int64_t> aio{0};
  // Handles released by the garbage collector instead of an explicit close.
  std::atomic<int64_t> finalized{0};
};
extern Counters counters;

// A JS Error for librados/librbd return code `rc` (a negative errno), with `errno`
// (positive) and `operation` properties for the TypeScript side to map.
Napi::Error ErrnoError(Napi::Env env, const std::string& operation, int rc);


// Runs `execute` (which returns 0 or a negative errno and may rename the operation
// for the error message) on the thread pool and settles a promise on the JS thread.
class PromiseWorker : public Napi::AsyncWorker {
 public:
  using Execute_ = std::function<int(std::string& operation)>;
  using Resolve = std::function<Napi::Value(Napi::Env env, int rc)>;
  using Finish = std::function<void(int rc)>;

  PromiseWorker(Napi::Env env, std::string operation, Execute_ execute, Resolve resolve = nullptr,
                Finish finish = nullptr)
      : Napi::AsyncWorker(env, "store-rbd"),
        deferred_(Napi::Promise::Deferred::New(env)),
        operation_(std::move(operation)),
        execute_(std::move(execute)),
        resolve_(std::move(resolve)),
        finish_(std::move(finish)) {}

  // Keeps `object` alive until the work is done.
  void Keep(Napi::Object object) { keep_.push_back(Napi::Persistent(object)); }

  Napi::Promise Start() {
    Napi::Promise promise = deferred_.Promise();
    Queue();
    return promise;
  }

 protected:
  void Execute() override { rc_ = execute_(operation_); }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (finish_) finish_(rc_);
    if (rc_ < 0) {
      deferred_.Reject(ErrnoError(env, operation_, rc_).Value());
    } else {
      deferred_.Resolve(resolve_ ? resolve_(env, rc_) : env.Undefined());
    }
  }

  void OnError(const Napi::Error& error) override {
    if (finish_) finish_(-EIO);
    deferred_.Reject(error.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::string operation_;
  Execute_ execute_;
  Resolve resolve_;
  Finish finish_;
  std::vector<Napi::ObjectReference> keep_;
  int rc_ = 0;
};

class Cluster : public Napi::ObjectWrap<Cluster> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit Cluster(const Napi::CallbackInfo& info);
  ~Cluster() override;

  rados_t handle() const { return cluster_; }
  bool connected() const { return state_ == State::Connected; }
  int open_pools = 0;

 private:
  enum class State { Idle, Connecting, Connected, Closing, Closed };
  Napi::Value Connect(const Napi::CallbackInfo& info);
  Napi::Value Fsid(const Napi::CallbackInfo& info);
  Napi::Value ConfGet(const Napi::CallbackInfo& info);
  Napi::Value Shutdown(const Napi::CallbackInfo& info);

  rados_t cluster_ = nullptr;
  State state_ = State::Idle;
};

class Pool : public Napi::ObjectWrap<Pool> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit Pool(const Napi::CallbackInfo& info);
  ~Pool() override;

  rados_ioctx_t handle() const { return ioctx_; }
  bool open() const { return state_ == State::Open; }
  int open_images = 0;
  int busy = 0;

 private:
  enum class State { Idle, Opening, Open, Closed };
  Napi::Value Open(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value CreateImage(const Napi::CallbackInfo& info);
  Napi::Value RemoveImage(const Napi::CallbackInfo& info);
  Napi::Value ListImages(const Napi::CallbackInfo& info);
  void Release();

  Cluster* cluster_ = nullptr;
  Napi::ObjectReference cluster_ref_;
  rados_ioctx_t ioctx_ = nullptr;
  State state_ = State::Idle;
};

Napi::Function InitImage(Napi::Env env);

}  // namespace storerbd
