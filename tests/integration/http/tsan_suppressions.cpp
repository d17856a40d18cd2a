// ThreadSanitizer cannot see the reference count of a std::exception_ptr: it lives in
// libstdc++.so, which is not built with TSan. When a client's I/O thread drops the last
// reference to a future's shared state after the caller has read the error (future::get()
// releases the caller's reference, the promise still holds one until the callback returns),
// TSan reports the error's destruction as racing with the caller's read, although the atomic
// count orders them. Only that frame is suppressed.
extern "C" const char* __tsan_default_suppressions() {
  return "race:std::__exception_ptr::exception_ptr::_M_release\n";
}
