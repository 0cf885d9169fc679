// Entry point of the @store/rbd native binding: thin wrappers over librados and
// librbd. Policy (what to create, retry, clean up) lives in TypeScript.
#include "common.h"

namespace storerbd {

static Napi::Value Handles(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("clusters", Napi::Number::New(env, static_cast<double>(counters.clusters.load())));
  out.Set("pools", Napi::Number::New(env, static_cast<double>(counters.pools.load())));
  out.Set("images", Napi::Number::New(env, static_cast<double>(counters.images.load())));
  out.Set("aio", Napi::Number::New(env, static_cast<double>(counters.aio.load())));
  out.Set("finalized", Napi::Number::New(env, static_cast<double>(counters.finalized.load())));
  return out;
}

static Napi::Value Version(const Napi::CallbackInfo& info) {
  int major = 0, minor = 0, extra = 0;
  rbd_version(&major, &minor, &extra);
  return Napi::String::New(info.Env(), std::to_string(major) + "." + std::to_string(minor) + "." +
                                           std::to_string(extra));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Cluster", Cluster::Init(env));
  exports.Set("Pool", Pool::Init(env));
  exports.Set("Image", InitImage(env));
  exports.Set("handles", Napi::Function::New(env, Handles));
  exports.Set("librbdVersion", Napi::Function::New(env, Version));
  // Features every image gets so its snapshot can be cloned.
  exports.Set("FEATURE_LAYERING", Napi::Number::New(env, RBD_FEATURE_LAYERING));
  return exports;
}

}  // namespace storerbd

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  return storerbd::Init(env, exports);
}

NODE_API_MODULE(rbd, InitAddon)
