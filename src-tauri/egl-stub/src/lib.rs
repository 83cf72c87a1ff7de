//! A display-only EGL vendor library for libglvnd.
//!
//! Why it exists: WebKitGTK 2.50's web process initialises an EGL display
//! at start-up even when the page never draws with the GPU (the WebPage
//! constructor reads WebCore's default "accelerated compositing on" before
//! the preferences arrive). On Mesa that display loads the DRI megadriver
//! and its libLLVM: 26 MiB of PSS in a process that then draws with the
//! CPU into shared memory. When Parley renders without GPU compositing it
//! points libglvnd (`__EGL_VENDOR_LIBRARY_FILENAMES`) at this library
//! instead: it hands out one display that initialises, lists no configs
//! and creates no contexts or surfaces, so WebKit takes its CPU paths and
//! Mesa is never loaded.
//!
//! What it implements: the vendor ABI of `glvnd/libeglabi.h` (ABI major
//! version 0): `__egl_Main` fills in the vendor imports, and the EGL 1.5
//! core entry points glvnd looks up through `getProcAddress`. Everything
//! that would need a GPU fails with the EGL error a real driver without
//! matching configs gives (`EGL_BAD_CONFIG`, `EGL_BAD_MATCH`), which WebKit
//! and GTK already handle as "no GL here". It never panics and allocates
//! nothing.
//!
//! ```text
//!   eglGetPlatformDisplay ──> the one display (any platform)
//!   eglInitialize         ──> EGL 1.5, initialised
//!   eglChooseConfig       ──> 0 configs
//!   eglCreate{Context,*Surface} ──> EGL_NO_*, EGL_BAD_CONFIG
//!   eglMakeCurrent(no context)  ──> EGL_TRUE (releasing is always fine)
//! ```
#![allow(unsafe_code)] // an FFI surface: raw pointers from libglvnd

use std::cell::Cell;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::atomic::{AtomicBool, Ordering};

/// `EGLBoolean`.
pub type EglBoolean = u32;
/// `EGLint`.
pub type EglInt = i32;
/// `EGLenum`.
pub type EglEnum = u32;
/// `EGLAttrib`.
pub type EglAttrib = isize;
/// An opaque EGL handle (display, config, context, surface, ...).
pub type EglHandle = *mut c_void;

/// `EGL_FALSE`.
pub const EGL_FALSE: EglBoolean = 0;
/// `EGL_TRUE`.
pub const EGL_TRUE: EglBoolean = 1;
/// `EGL_SUCCESS`.
pub const EGL_SUCCESS: EglInt = 0x3000;
/// `EGL_NOT_INITIALIZED`.
pub const EGL_NOT_INITIALIZED: EglInt = 0x3001;
/// `EGL_BAD_CONFIG`.
pub const EGL_BAD_CONFIG: EglInt = 0x3005;
/// `EGL_BAD_CONTEXT`.
pub const EGL_BAD_CONTEXT: EglInt = 0x3006;
/// `EGL_BAD_DISPLAY`.
pub const EGL_BAD_DISPLAY: EglInt = 0x3008;
/// `EGL_BAD_MATCH`.
pub const EGL_BAD_MATCH: EglInt = 0x3009;
/// `EGL_BAD_PARAMETER`.
pub const EGL_BAD_PARAMETER: EglInt = 0x300C;
/// `EGL_BAD_SURFACE`.
pub const EGL_BAD_SURFACE: EglInt = 0x300D;
/// `EGL_VENDOR`.
pub const EGL_VENDOR: EglInt = 0x3053;
/// `EGL_VERSION`.
pub const EGL_VERSION: EglInt = 0x3054;
/// `EGL_EXTENSIONS`.
pub const EGL_EXTENSIONS: EglInt = 0x3055;
/// `EGL_CLIENT_APIS`.
pub const EGL_CLIENT_APIS: EglInt = 0x308D;
/// `EGL_OPENGL_ES_API`.
pub const EGL_OPENGL_ES_API: EglEnum = 0x30A0;
/// `EGL_OPENGL_API`.
pub const EGL_OPENGL_API: EglEnum = 0x30A2;

/// The vendor ABI major version this library speaks (`libeglabi.h`).
pub const ABI_MAJOR: u32 = 0;
/// `__EGL_VENDOR_STRING_PLATFORM_EXTENSIONS`.
const VENDOR_STRING_PLATFORM_EXTENSIONS: c_int = 0;

/// The platforms WebKit and GTK ask for: surfaceless (the web process
/// without a render node), GBM (with one), X11 and Wayland. Listing them
/// is what makes libglvnd offer `eglGetPlatformDisplay` for them.
const PLATFORM_EXTENSIONS: &CStr = c"EGL_EXT_platform_base EGL_MESA_platform_surfaceless EGL_KHR_platform_gbm EGL_MESA_platform_gbm EGL_KHR_platform_x11 EGL_EXT_platform_x11 EGL_KHR_platform_wayland EGL_EXT_platform_wayland";
/// Client extensions: the platform ones plus the two every EGL 1.5
/// implementation reports.
const CLIENT_EXTENSIONS: &CStr = c"EGL_EXT_client_extensions EGL_KHR_client_get_all_proc_addresses EGL_EXT_platform_base EGL_MESA_platform_surfaceless EGL_KHR_platform_gbm EGL_MESA_platform_gbm EGL_KHR_platform_x11 EGL_EXT_platform_x11 EGL_KHR_platform_wayland EGL_EXT_platform_wayland";

/// `__EGLapiImports`: what the vendor hands libglvnd, in the header's
/// order. libglvnd zeroes it before `__egl_Main`; the optional patching
/// and native-platform hooks stay empty.
#[repr(C)]
pub struct EglApiImports {
    /// `getPlatformDisplay`.
    pub get_platform_display:
        Option<unsafe extern "C" fn(EglEnum, *mut c_void, *const EglAttrib) -> EglHandle>,
    /// `getSupportsAPI`.
    pub get_supports_api: Option<extern "C" fn(EglEnum) -> EglBoolean>,
    /// `getVendorString`.
    pub get_vendor_string: Option<extern "C" fn(c_int) -> *const c_char>,
    /// `getProcAddress`.
    pub get_proc_address: Option<unsafe extern "C" fn(*const c_char) -> *mut c_void>,
    /// `getDispatchAddress`.
    pub get_dispatch_address: Option<unsafe extern "C" fn(*const c_char) -> *mut c_void>,
    /// `setDispatchIndex`.
    pub set_dispatch_index: Option<unsafe extern "C" fn(*const c_char, c_int)>,
    /// `isPatchSupported` (unused).
    pub is_patch_supported: *mut c_void,
    /// `initiatePatch` (unused).
    pub initiate_patch: *mut c_void,
    /// `releasePatch` (unused).
    pub release_patch: *mut c_void,
    /// `patchThreadAttach` (unused).
    pub patch_thread_attach: *mut c_void,
    /// `findNativeDisplayPlatform` (unused).
    pub find_native_display_platform: *mut c_void,
}

/// The one display: its address is the handle.
static DISPLAY: u8 = 0;
static INITIALIZED: AtomicBool = AtomicBool::new(false);

thread_local! {
    // EGL errors are per thread (EGL 1.5 §3.1).
    static LAST_ERROR: Cell<EglInt> = const { Cell::new(EGL_SUCCESS) };
}

fn display() -> EglHandle {
    std::ptr::addr_of!(DISPLAY).cast_mut().cast()
}

fn set_error(e: EglInt) {
    LAST_ERROR.with(|c| c.set(e));
}

/// Records `e` and returns `value`: the shape of every failing call.
fn fail<T>(e: EglInt, value: T) -> T {
    set_error(e);
    value
}

/// Records success and returns `value`: a call that works clears the
/// thread's error (EGL 1.5 §3.1: eglGetError reports the last call).
fn ok<T>(value: T) -> T {
    set_error(EGL_SUCCESS);
    value
}

/// Whether `d` is our display and initialised; records the error if not.
fn usable(d: EglHandle) -> bool {
    if d != display() {
        return fail(EGL_BAD_DISPLAY, false);
    }
    if !INITIALIZED.load(Ordering::Acquire) {
        return fail(EGL_NOT_INITIALIZED, false);
    }
    true
}

/// A call on an object that cannot exist here (a config, context or
/// surface): `error` on our initialised display, else the display's own
/// error; `failed` either way.
fn refuse<T>(d: EglHandle, error: EglInt, failed: T) -> T {
    if usable(d) {
        fail(error, failed)
    } else {
        failed
    }
}

/// The entry point libglvnd calls after `dlopen`.
///
/// # Safety
/// `imports` must be null or point to a writable `__EGLapiImports`.
#[no_mangle]
pub unsafe extern "C" fn __egl_Main(
    version: u32,
    _exports: *const c_void,
    _vendor: *mut c_void,
    imports: *mut EglApiImports,
) -> EglBoolean {
    if version >> 16 != ABI_MAJOR || imports.is_null() {
        return EGL_FALSE;
    }
    // SAFETY: libglvnd passes its own, writable imports table.
    let imports = unsafe { &mut *imports };
    imports.get_platform_display = Some(get_platform_display);
    imports.get_supports_api = Some(get_supports_api);
    imports.get_vendor_string = Some(get_vendor_string);
    imports.get_proc_address = Some(get_proc_address);
    imports.get_dispatch_address = Some(get_dispatch_address);
    imports.set_dispatch_index = Some(set_dispatch_index);
    EGL_TRUE
}

/// Any platform and native display get the one display: this vendor is
/// only ever the sole one libglvnd loads (the app names it alone), so
/// there is no other vendor to leave a platform to.
unsafe extern "C" fn get_platform_display(
    _platform: EglEnum,
    _native: *mut c_void,
    _attribs: *const EglAttrib,
) -> EglHandle {
    display()
}

extern "C" fn get_supports_api(api: EglEnum) -> EglBoolean {
    EglBoolean::from(api == EGL_OPENGL_ES_API || api == EGL_OPENGL_API)
}

extern "C" fn get_vendor_string(name: c_int) -> *const c_char {
    if name == VENDOR_STRING_PLATFORM_EXTENSIONS {
        PLATFORM_EXTENSIONS.as_ptr()
    } else {
        std::ptr::null()
    }
}

/// No extension functions: they would all need a context.
unsafe extern "C" fn get_dispatch_address(_name: *const c_char) -> *mut c_void {
    std::ptr::null_mut()
}

unsafe extern "C" fn set_dispatch_index(_name: *const c_char, _index: c_int) {}

/// The core entry points libglvnd asks every vendor for.
unsafe extern "C" fn get_proc_address(name: *const c_char) -> *mut c_void {
    if name.is_null() {
        return std::ptr::null_mut();
    }
    // SAFETY: libglvnd passes NUL-terminated names.
    let name = unsafe { CStr::from_ptr(name) };
    entry(name.to_bytes())
}

/// The function named `name`, as the untyped pointer glvnd stores.
fn entry(name: &[u8]) -> *mut c_void {
    macro_rules! f {
        ($f:expr) => {
            $f as *const () as *mut c_void
        };
    }
    match name {
        b"eglInitialize" => f!(initialize as unsafe extern "C" fn(_, _, _) -> _),
        b"eglTerminate" => f!(terminate as extern "C" fn(_) -> _),
        b"eglQueryString" => f!(query_string as extern "C" fn(_, _) -> _),
        b"eglGetConfigs" => f!(get_configs as unsafe extern "C" fn(_, _, _, _) -> _),
        b"eglChooseConfig" => f!(choose_config as unsafe extern "C" fn(_, _, _, _, _) -> _),
        b"eglGetConfigAttrib" => f!(get_config_attrib as extern "C" fn(_, _, _, _) -> _),
        b"eglCreateContext" => f!(create_context as extern "C" fn(_, _, _, _) -> _),
        b"eglDestroyContext" => f!(destroy_context as extern "C" fn(_, _) -> _),
        b"eglMakeCurrent" => f!(make_current as extern "C" fn(_, _, _, _) -> _),
        b"eglQueryContext" => f!(query_context as extern "C" fn(_, _, _, _) -> _),
        b"eglCreateWindowSurface" => f!(create_window_surface as extern "C" fn(_, _, _, _) -> _),
        b"eglCreatePbufferSurface" => f!(create_pbuffer_surface as extern "C" fn(_, _, _) -> _),
        b"eglCreatePixmapSurface" => f!(create_pixmap_surface as extern "C" fn(_, _, _, _) -> _),
        b"eglCreatePbufferFromClientBuffer" => {
            f!(create_pbuffer_from_client_buffer as extern "C" fn(_, _, _, _, _) -> _)
        }
        b"eglCreatePlatformWindowSurface" => {
            f!(create_platform_surface as extern "C" fn(_, _, _, _) -> _)
        }
        b"eglCreatePlatformPixmapSurface" => {
            f!(create_platform_surface as extern "C" fn(_, _, _, _) -> _)
        }
        b"eglDestroySurface" => f!(surface_call as extern "C" fn(_, _) -> _),
        b"eglSwapBuffers" => f!(surface_call as extern "C" fn(_, _) -> _),
        b"eglQuerySurface" => f!(query_surface as extern "C" fn(_, _, _, _) -> _),
        b"eglSurfaceAttrib" => f!(surface_int_call as extern "C" fn(_, _, _, _) -> _),
        b"eglCopyBuffers" => f!(copy_buffers as extern "C" fn(_, _, _) -> _),
        b"eglBindTexImage" => f!(surface_buffer_call as extern "C" fn(_, _, _) -> _),
        b"eglReleaseTexImage" => f!(surface_buffer_call as extern "C" fn(_, _, _) -> _),
        b"eglSwapInterval" => f!(swap_interval as extern "C" fn(_, _) -> _),
        b"eglBindAPI" => f!(bind_api as extern "C" fn(_) -> _),
        b"eglWaitClient" | b"eglWaitGL" | b"eglReleaseThread" => {
            f!(nothing_to_wait_for as extern "C" fn() -> _)
        }
        b"eglWaitNative" => f!(wait_native as extern "C" fn(_) -> _),
        b"eglGetError" => f!(get_error as extern "C" fn() -> _),
        _ => std::ptr::null_mut(),
    }
}

unsafe extern "C" fn initialize(
    d: EglHandle,
    major: *mut EglInt,
    minor: *mut EglInt,
) -> EglBoolean {
    if d != display() {
        return fail(EGL_BAD_DISPLAY, EGL_FALSE);
    }
    INITIALIZED.store(true, Ordering::Release);
    // SAFETY: EGL allows either pointer to be null; otherwise writable.
    unsafe {
        if !major.is_null() {
            *major = 1;
        }
        if !minor.is_null() {
            *minor = 5;
        }
    }
    ok(EGL_TRUE)
}

extern "C" fn terminate(d: EglHandle) -> EglBoolean {
    if d != display() {
        return fail(EGL_BAD_DISPLAY, EGL_FALSE);
    }
    INITIALIZED.store(false, Ordering::Release);
    ok(EGL_TRUE)
}

extern "C" fn query_string(d: EglHandle, name: EglInt) -> *const c_char {
    if d.is_null() {
        // EGL_NO_DISPLAY: the client strings (EGL 1.5 §3.3).
        return match name {
            EGL_EXTENSIONS => ok(CLIENT_EXTENSIONS.as_ptr()),
            EGL_VERSION => ok(c"1.5".as_ptr()),
            _ => fail(EGL_BAD_PARAMETER, std::ptr::null()),
        };
    }
    if !usable(d) {
        return std::ptr::null();
    }
    match name {
        EGL_VENDOR => ok(c"Parley (display only, no GL)".as_ptr()),
        EGL_VERSION => ok(c"1.5 Parley".as_ptr()),
        EGL_EXTENSIONS => ok(c"".as_ptr()),
        EGL_CLIENT_APIS => ok(c"OpenGL_ES OpenGL".as_ptr()),
        _ => fail(EGL_BAD_PARAMETER, std::ptr::null()),
    }
}

/// No configs: what a driver without a matching visual answers.
unsafe extern "C" fn get_configs(
    d: EglHandle,
    _configs: *mut EglHandle,
    _size: EglInt,
    num: *mut EglInt,
) -> EglBoolean {
    if !usable(d) {
        return EGL_FALSE;
    }
    if num.is_null() {
        return fail(EGL_BAD_PARAMETER, EGL_FALSE);
    }
    // SAFETY: checked non-null; the caller's out-parameter.
    unsafe { *num = 0 };
    ok(EGL_TRUE)
}

unsafe extern "C" fn choose_config(
    d: EglHandle,
    _attribs: *const EglInt,
    configs: *mut EglHandle,
    size: EglInt,
    num: *mut EglInt,
) -> EglBoolean {
    // SAFETY: the same out-parameter contract as eglGetConfigs.
    unsafe { get_configs(d, configs, size, num) }
}

extern "C" fn get_config_attrib(
    d: EglHandle,
    _config: EglHandle,
    _attr: EglInt,
    _value: *mut EglInt,
) -> EglBoolean {
    refuse(d, EGL_BAD_CONFIG, EGL_FALSE)
}

extern "C" fn create_context(
    d: EglHandle,
    _config: EglHandle,
    _share: EglHandle,
    _attribs: *const EglInt,
) -> EglHandle {
    refuse(d, EGL_BAD_CONFIG, std::ptr::null_mut())
}

extern "C" fn destroy_context(d: EglHandle, _ctx: EglHandle) -> EglBoolean {
    refuse(d, EGL_BAD_CONTEXT, EGL_FALSE)
}

/// Releasing the current context always works; making one current cannot
/// (there are none). No context with surfaces is EGL_BAD_MATCH (§3.7.3).
extern "C" fn make_current(
    d: EglHandle,
    draw: EglHandle,
    read: EglHandle,
    ctx: EglHandle,
) -> EglBoolean {
    if ctx.is_null() && draw.is_null() && read.is_null() {
        return ok(EGL_TRUE);
    }
    if !usable(d) {
        return EGL_FALSE;
    }
    if ctx.is_null() {
        return fail(EGL_BAD_MATCH, EGL_FALSE);
    }
    fail(EGL_BAD_CONTEXT, EGL_FALSE)
}

extern "C" fn query_context(
    d: EglHandle,
    _ctx: EglHandle,
    _attr: EglInt,
    _value: *mut EglInt,
) -> EglBoolean {
    refuse(d, EGL_BAD_CONTEXT, EGL_FALSE)
}

fn no_surface(d: EglHandle) -> EglHandle {
    refuse(d, EGL_BAD_CONFIG, std::ptr::null_mut())
}

extern "C" fn create_window_surface(
    d: EglHandle,
    _config: EglHandle,
    _window: usize,
    _attribs: *const EglInt,
) -> EglHandle {
    no_surface(d)
}

extern "C" fn create_pbuffer_surface(
    d: EglHandle,
    _config: EglHandle,
    _attribs: *const EglInt,
) -> EglHandle {
    no_surface(d)
}

extern "C" fn create_pixmap_surface(
    d: EglHandle,
    _config: EglHandle,
    _pixmap: usize,
    _attribs: *const EglInt,
) -> EglHandle {
    no_surface(d)
}

extern "C" fn create_pbuffer_from_client_buffer(
    d: EglHandle,
    _buftype: EglEnum,
    _buffer: EglHandle,
    _config: EglHandle,
    _attribs: *const EglInt,
) -> EglHandle {
    no_surface(d)
}

extern "C" fn create_platform_surface(
    d: EglHandle,
    _config: EglHandle,
    _native: *mut c_void,
    _attribs: *const EglAttrib,
) -> EglHandle {
    no_surface(d)
}

/// Any call on a surface: there are none, so the handle is bad.
fn bad_surface(d: EglHandle) -> EglBoolean {
    refuse(d, EGL_BAD_SURFACE, EGL_FALSE)
}

extern "C" fn surface_call(d: EglHandle, _surface: EglHandle) -> EglBoolean {
    bad_surface(d)
}

extern "C" fn query_surface(
    d: EglHandle,
    _surface: EglHandle,
    _attr: EglInt,
    _value: *mut EglInt,
) -> EglBoolean {
    bad_surface(d)
}

extern "C" fn surface_int_call(
    d: EglHandle,
    _surface: EglHandle,
    _attr: EglInt,
    _value: EglInt,
) -> EglBoolean {
    bad_surface(d)
}

extern "C" fn copy_buffers(d: EglHandle, _surface: EglHandle, _pixmap: usize) -> EglBoolean {
    bad_surface(d)
}

extern "C" fn surface_buffer_call(
    d: EglHandle,
    _surface: EglHandle,
    _buffer: EglInt,
) -> EglBoolean {
    bad_surface(d)
}

/// Without a current context there is nothing to pace (EGL 1.5 §3.10.3
/// would say EGL_BAD_CONTEXT); callers treat the call as advisory.
extern "C" fn swap_interval(d: EglHandle, _interval: EglInt) -> EglBoolean {
    refuse(d, EGL_BAD_CONTEXT, EGL_FALSE)
}

extern "C" fn bind_api(api: EglEnum) -> EglBoolean {
    if get_supports_api(api) == EGL_TRUE {
        ok(EGL_TRUE)
    } else {
        fail(EGL_BAD_PARAMETER, EGL_FALSE)
    }
}

extern "C" fn nothing_to_wait_for() -> EglBoolean {
    ok(EGL_TRUE)
}

extern "C" fn wait_native(_engine: EglInt) -> EglBoolean {
    ok(EGL_TRUE)
}

extern "C" fn get_error() -> EglInt {
    LAST_ERROR.with(|c| c.replace(EGL_SUCCESS))
}

#[cfg(test)]
mod tests;
