// Image (rbd_image_t) handles. Reads, writes and flushes use librbd's aio API: the
// completion fires on a librbd thread and is handed back to the JS thread through
// a thread-safe function, so no thread (ours or libuv's) waits on them. The other
// calls are short metadata operations run on the thread pool.
#include <array>
#include <cerrno>
#include <ctime>

#include "common.h"

namespace storerbd {

namespace {

class Image;

struct AioOp {
  Image* image;
  Napi::Promise::Deferred deferred;
  Napi::ObjectReference buffer;
  rbd_completion_t completion = nullptr;
  ssize_t rc = 0;
  const char* operation;
};

void CallJs(Napi::Env env, Napi::Function, Image* image, AioOp* op);
using AioTsfn = Napi::TypedThreadSafeFunction<Image, AioOp, CallJs>;

class Image : public Napi::ObjectWrap<Image> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Image",
                       {
                           InstanceMethod<&Image::Open>("open"),
                           InstanceMethod<&Image::Size>("size"),
                           InstanceMethod<&Image::Write>("write"),
                           InstanceMethod<&Image::Read>("read"),
                           InstanceMethod<&Image::Flush>("flush"),
                           InstanceMethod<&Image::Resize>("resize"),
                           InstanceMethod<&Image::SnapCreate>("snapCreate"),
                           InstanceMethod<&Image::SnapProtect>("snapProtect"),
                           InstanceMethod<&Image::SnapUnprotect>("snapUnprotect"),
                           InstanceMethod<&Image::SnapRemove>("snapRemove"),
                           InstanceMethod<&Image::SnapExists>("snapExists"),
                           InstanceMethod<&Image::SnapSet>("snapSet"),
                           InstanceMethod<&Image::Children>("children"),
                           InstanceMethod<&Image::Watchers>("watchers"),
                           InstanceMethod<&Image::SnapNames>("snapNames"),
                           InstanceMethod<&Image::SnapIsProtected>("snapIsProtected"),
                           InstanceMethod<&Image::Timestamps>("timestamps"),
                           InstanceMethod<&Image::Close>("close"),
                       });
  }

  // new Image(pool)
  explicit Image(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Image>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) {
      Napi::TypeError::New(env, "new Image(pool) expected").ThrowAsJavaScriptException();
      return;
    }
    Napi::Object object = info[0].As<Napi::Object>();
    pool_ = Pool::Unwrap(object);
    if (pool_ == nullptr) return;
    pool_ref_ = Napi::Persistent(object);
  }

  ~Image() override {
    // Dropped by JS while open: nothing can be in flight (each op keeps us alive).
    if (image_ != nullptr) {
      rbd_close(image_);
      counters.images--;
      counters.finalized++;
      if (pool_ != nullptr) pool_->open_images--;
      tsfn_.Release();
    }
  }

  void AioDone(Napi::Env env) {
    counters.aio--;
    if (--pending_ == 0) tsfn_.Unref(env);
  }

 private:
  enum class State { Idle, Opening, Open, Closing, Closed };

  Napi::Value Reject(Napi::Env env, const std::string& message) {
    Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(env);
    deferred.Reject(Napi::Error::New(env, "image: " + message).Value());
    return deferred.Promise();
  }

  // Runs a metadata call on the thread pool; the image stays busy (no close) meanwhile.
  Napi::Value Run(Napi::Env env, const std::string& operation,
                  std::function<int(rbd_image_t)> call,
                  PromiseWorker::Resolve resolve = nullptr) {
    if (state_ != State::Open) return Reject(env, "not open");
    rbd_image_t image = image_;
    busy_++;
    auto* worker = new PromiseWorker(
        env, operation, [image, call](std::string&) { return call(image); }, std::move(resolve),
        [this](int) { busy_--; });
    worker->Keep(Value());
    return worker->Start();
  }

  // open(name: string, snapshot: string | null, readOnly: boolean): Promise<void>
  Napi::Value Open(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (state_ != State::Idle) return Reject(env, "open() may be called once");
    if (pool_ == nullptr || !pool_->open()) return Reject(env, "the pool is not open");
    if (info.Length() < 3 || !info[0].IsString() || !info[2].IsBoolean())
      return Reject(env, "open(name, snapshot, readOnly) expected");
    std::string name = info[0].As<Napi::String>();
    bool has_snap = info[1].IsString();
    std::string snap = has_snap ? info[1].As<Napi::String>().Utf8Value() : "";
    bool read_only = info[2].As<Napi::Boolean>();
    state_ = State::Opening;
    pool_->open_images++;
    rados_ioctx_t ioctx = pool_->handle();
    auto* worker = new PromiseWorker(
        env, read_only ? "rbd_open_read_only" : "rbd_open",
        [this, ioctx, name, has_snap, snap, read_only](std::string&) {
          rbd_image_t image = nullptr;
          const char* s = has_snap ? snap.c_str() : nullptr;
          int rc = read_only ? rbd_open_read_only(ioctx, name.c_str(), &image, s)
                             : rbd_open(ioctx, name.c_str(), &image, s);
          if (rc == 0) image_ = image;
          return rc;
        },
        nullptr,
        [this, env](int rc) {
          if (rc < 0) {
            state_ = State::Closed;
            pool_->open_images--;
            return;
          }
          state_ = State::Open;
          counters.images++;
          tsfn_ = AioTsfn::New(env, "store-rbd-aio", 0, 1, this);
          tsfn_.Unref(env);
        });
    worker->Keep(Value());
    return worker->Start();
  }

  // size(): number — answered from the open image's header, no I/O.
  Napi::Value Size(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (state_ != State::Open) {
      Napi::Error::New(env, "image: not open").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    uint64_t size = 0;
    int rc = rbd_get_size(image_, &size);
    if (rc < 0) {
      ErrnoError(env, "rbd_get_size", rc).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    return Napi::Number::New(env, static_cast<double>(size));
  }

  // Starts an aio call; `start` issues it with the completion.
  Napi::Value StartAio(Napi::Env env, const char* operation, Napi::Object buffer,
                       std::function<int(rbd_completion_t)> start) {
    if (state_ != State::Open) return Reject(env, "not open");
    auto* op = new AioOp{this, Napi::Promise::Deferred::New(env), Napi::ObjectReference(), nullptr,
                         0, operation};
    if (!buffer.IsEmpty()) op->buffer = Napi::Persistent(buffer);
    Napi::Promise promise = op->deferred.Promise();
    int rc = rbd_aio_create_completion(op, &Image::OnComplete, &op->completion);
    if (rc == 0) {
      if (pending_++ == 0) tsfn_.Ref(env);
      counters.aio++;
      // Keep this object alive while librbd holds a pointer to it.
      if (pending_ == 1) self_ = Napi::Persistent(Value());
      rc = start(op->completion);
      if (rc < 0) {
        rbd_aio_release(op->completion);
        AioDone(env);
        if (pending_ == 0) self_.Reset();
      }
    }
    if (rc < 0) {
      op->deferred.Reject(ErrnoError(env, operation, rc).Value());
      delete op;
    }
    return promise;
  }

  static void OnComplete(rbd_completion_t completion, void* arg) {
    auto* op = static_cast<AioOp*>(arg);
    op->rc = rbd_aio_get_return_value(completion);
    op->image->tsfn_.NonBlockingCall(op);
  }

  friend void CallJs(Napi::Env env, Napi::Function, Image* image, AioOp* op);

  // write(offset: number, data: Uint8Array): Promise<void>
  Napi::Value Write(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsTypedArray())
      return Reject(env, "write(offset, data) expected");
    uint64_t offset = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
    Napi::Uint8Array data = info[1].As<Napi::Uint8Array>();
    const char* bytes = reinterpret_cast<const char*>(data.Data());
    size_t length = data.ByteLength();
    rbd_image_t image = image_;
    return StartAio(env, "rbd_aio_write", data, [=](rbd_completion_t c) {
      return rbd_aio_write(image, offset, length, bytes, c);
    });
  }

  // read(offset: number, into: Uint8Array): Promise<number> (bytes read)
  Napi::Value Read(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsTypedArray())
      return Reject(env, "read(offset, into) expected");
    uint64_t offset = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
    Napi::Uint8Array into = info[1].As<Napi::Uint8Array>();
    char* bytes = reinterpret_cast<char*>(into.Data());
    size_t length = into.ByteLength();
    rbd_image_t image = image_;
    return StartAio(env, "rbd_aio_read", into, [=](rbd_completion_t c) {
      return rbd_aio_read(image, offset, length, bytes, c);
    });
  }

  // flush(): Promise<void> — writes acknowledged so far reach the OSDs.
  Napi::Value Flush(const Napi::CallbackInfo& info) {
    rbd_image_t image = image_;
    return StartAio(info.Env(), "rbd_aio_flush", Napi::Object(),
                    [=](rbd_completion_t c) { return rbd_aio_flush(image, c); });
  }

  Napi::Value Resize(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsNumber()) return Reject(env, "resize(size) expected");
    uint64_t size = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
    return Run(env, "rbd_resize", [size](rbd_image_t image) { return rbd_resize(image, size); });
  }

  Napi::Value SnapCall(const Napi::CallbackInfo& info, const char* operation,
                       int (*call)(rbd_image_t, const char*)) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString())
      return Reject(env, std::string(operation) + "(name) expected");
    std::string name = info[0].As<Napi::String>();
    return Run(env, operation, [call, name](rbd_image_t image) { return call(image, name.c_str()); });
  }

  Napi::Value SnapCreate(const Napi::CallbackInfo& info) {
    return SnapCall(info, "rbd_snap_create", rbd_snap_create);
  }
  Napi::Value SnapProtect(const Napi::CallbackInfo& info) {
    return SnapCall(info, "rbd_snap_protect", rbd_snap_protect);
  }
  Napi::Value SnapUnprotect(const Napi::CallbackInfo& info) {
    return SnapCall(info, "rbd_snap_unprotect", rbd_snap_unprotect);
  }
  Napi::Value SnapRemove(const Napi::CallbackInfo& info) {
    return SnapCall(info, "rbd_snap_remove", rbd_snap_remove);
  }

  // snapExists(name): Promise<boolean>
  Napi::Value SnapExists(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) return Reject(env, "snapExists(name) expected");
    std::string name = info[0].As<Napi::String>();
    return Run(
        env, "rbd_snap_exists",
        [name](rbd_image_t image) {
          bool exists = false;
          int rc = rbd_snap_exists(image, name.c_str(), &exists);
          return rc < 0 ? rc : (exists ? 1 : 0);
        },
        [](Napi::Env env, int rc) { return Napi::Boolean::New(env, rc == 1); });
  }

  // snapSet(name | null): Promise<void> — which snapshot later reads and listings see.
  Napi::Value SnapSet(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    bool has = info.Length() > 0 && info[0].IsString();
    std::string name = has ? info[0].As<Napi::String>().Utf8Value() : "";
    return Run(env, "rbd_snap_set", [has, name](rbd_image_t image) {
      return rbd_snap_set(image, has ? name.c_str() : nullptr);
    });
  }

  // children(): Promise<number> — clones of the snapshot set with snapSet.
  Napi::Value Children(const Napi::CallbackInfo& info) {
    return Run(
        info.Env(), "rbd_list_children3",
        [](rbd_image_t image) {
          std::vector<rbd_linked_image_spec_t> specs;
          size_t max = 0;
          int rc;
          do {
            specs.resize(max);
            rc = rbd_list_children3(image, specs.data(), &max);
          } while (rc == -ERANGE);
          if (rc < 0) return rc;
          rbd_linked_image_spec_list_cleanup(specs.data(), max);
          return static_cast<int>(max);
        },
        [](Napi::Env env, int rc) { return Napi::Number::New(env, rc); });
  }

  // watchers(): Promise<number> — clients watching the image header (open read-write).
  Napi::Value Watchers(const Napi::CallbackInfo& info) {
    return Run(
        info.Env(), "rbd_watchers_list",
        [](rbd_image_t image) {
          std::vector<rbd_image_watcher_t> list;
          size_t max = 0;
          int rc;
          do {
            list.resize(max);
            rc = rbd_watchers_list(image, list.data(), &max);
          } while (rc == -ERANGE);
          if (rc < 0) return rc;
          rbd_watchers_list_cleanup(list.data(), max);
          return static_cast<int>(max);
        },
        [](Napi::Env env, int rc) { return Napi::Number::New(env, rc); });
  }

  // snapNames(): Promise<string[]> — the names of the image's snapshots.
  Napi::Value SnapNames(const Napi::CallbackInfo& info) {
    auto names = std::make_shared<std::vector<std::string>>();
    return Run(
        info.Env(), "rbd_snap_list",
        [names](rbd_image_t image) {
          std::vector<rbd_snap_info_t> snaps;
          int max = 8;
          int rc;
          for (;;) {
            snaps.resize(max);
            rc = rbd_snap_list(image, snaps.data(), &max);
            if (rc != -ERANGE) break;
          }
          if (rc < 0) return rc;
          for (int i = 0; i < rc; i++) names->emplace_back(snaps[i].name);
          rbd_snap_list_end(snaps.data());
          return 0;
        },
        [names](Napi::Env env, int) {
          Napi::Array array = Napi::Array::New(env, names->size());
          for (size_t i = 0; i < names->size(); i++)
            array.Set(i, Napi::String::New(env, (*names)[i]));
          return array;
        });
  }

  // snapIsProtected(name): Promise<boolean>
  Napi::Value SnapIsProtected(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString())
      return Reject(env, "snapIsProtected(name) expected");
    std::string name = info[0].As<Napi::String>();
    return Run(
        env, "rbd_snap_is_protected",
        [name](rbd_image_t image) {
          int is_protected = 0;
          int rc = rbd_snap_is_protected(image, name.c_str(), &is_protected);
          return rc < 0 ? rc : (is_protected ? 1 : 0);
        },
        [](Napi::Env env, int rc) { return Napi::Boolean::New(env, rc == 1); });
  }

  // timestamps(): Promise<[createdMs, modifiedMs]> — when the image was created and last written.
  Napi::Value Timestamps(const Napi::CallbackInfo& info) {
    auto times = std::make_shared<std::array<double, 2>>();
    return Run(
        info.Env(), "rbd_get_create_timestamp",
        [times](rbd_image_t image) {
          struct timespec created {}, modified {};
          int rc = rbd_get_create_timestamp(image, &created);
          if (rc < 0) return rc;
          rc = rbd_get_modify_timestamp(image, &modified);
          if (rc < 0) return rc;
          (*times)[0] = created.tv_sec * 1000.0 + created.tv_nsec / 1e6;
          (*times)[1] = modified.tv_sec * 1000.0 + modified.tv_nsec / 1e6;
          return 0;
        },
        [times](Napi::Env env, int) {
          Napi::Array array = Napi::Array::New(env, 2);
          array.Set(uint32_t{0}, Napi::Number::New(env, (*times)[0]));
          array.Set(uint32_t{1}, Napi::Number::New(env, (*times)[1]));
          return array;
        });
  }

  // close(): Promise<void>; refused while calls are in flight.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (state_ == State::Closed || state_ == State::Closing) {
      Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(env);
      deferred.Resolve(env.Undefined());
      return deferred.Promise();
    }
    if (state_ != State::Open) return Reject(env, "close() while opening");
    if (pending_ > 0 || busy_ > 0) return Reject(env, "close() with calls in flight");
    state_ = State::Closing;
    rbd_image_t image = image_;
    tsfn_.Release();
    auto* worker = new PromiseWorker(
        env, "rbd_close", [image](std::string&) { return rbd_close(image); }, nullptr,
        [this](int) {
          image_ = nullptr;
          state_ = State::Closed;
          counters.images--;
          pool_->open_images--;
        });
    worker->Keep(Value());
    return worker->Start();
  }

  Pool* pool_ = nullptr;
  Napi::ObjectReference pool_ref_;
  Napi::ObjectReference self_;
  rbd_image_t image_ = nullptr;
  AioTsfn tsfn_;
  State state_ = State::Idle;
  int pending_ = 0;
  int busy_ = 0;
};

void CallJs(Napi::Env env, Napi::Function, Image* image, AioOp* op) {
  rbd_aio_release(op->completion);
  if (env == nullptr) {  // environment shutting down
    delete op;
    return;
  }
  Napi::HandleScope scope(env);
  if (op->rc < 0) {
    op->deferred.Reject(ErrnoError(env, op->operation, static_cast<int>(op->rc)).Value());
  } else {
    op->deferred.Resolve(Napi::Number::New(env, static_cast<double>(op->rc)));
  }
  delete op;
  image->AioDone(env);
  if (image->pending_ == 0) image->self_.Reset();
}

}  // namespace

Napi::Function InitImage(Napi::Env env) { return Image::Init(env); }

}  // namespace storerbd
