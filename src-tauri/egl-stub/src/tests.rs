use super::*;

/// A function pointer from glvnd's untyped entry (same size, same ABI).
unsafe fn cast<F: Copy>(p: *mut c_void) -> F {
    assert!(!p.is_null());
    assert_eq!(std::mem::size_of::<F>(), std::mem::size_of::<*mut c_void>());
    unsafe { std::mem::transmute_copy(&p) }
}

fn imports() -> EglApiImports {
    EglApiImports {
        get_platform_display: None,
        get_supports_api: None,
        get_vendor_string: None,
        get_proc_address: None,
        get_dispatch_address: None,
        set_dispatch_index: None,
        is_patch_supported: std::ptr::null_mut(),
        initiate_patch: std::ptr::null_mut(),
        release_patch: std::ptr::null_mut(),
        patch_thread_attach: std::ptr::null_mut(),
        find_native_display_platform: std::ptr::null_mut(),
    }
}

fn loaded() -> EglApiImports {
    let mut i = imports();
    let ok = unsafe { __egl_Main(2, std::ptr::null(), std::ptr::null_mut(), &mut i) };
    assert_eq!(ok, EGL_TRUE);
    i
}

fn proc(i: &EglApiImports, name: &CStr) -> *mut c_void {
    unsafe { (i.get_proc_address.unwrap())(name.as_ptr()) }
}

fn text(p: *const c_char) -> String {
    assert!(!p.is_null());
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// The core functions libglvnd's vendor loader requires of every vendor
/// (it refuses a vendor missing any), plus the EGL 1.5 platform ones.
const CORE: &[&CStr] = &[
    c"eglBindAPI",
    c"eglBindTexImage",
    c"eglChooseConfig",
    c"eglCopyBuffers",
    c"eglCreateContext",
    c"eglCreatePbufferFromClientBuffer",
    c"eglCreatePbufferSurface",
    c"eglCreatePixmapSurface",
    c"eglCreatePlatformPixmapSurface",
    c"eglCreatePlatformWindowSurface",
    c"eglCreateWindowSurface",
    c"eglDestroyContext",
    c"eglDestroySurface",
    c"eglGetConfigAttrib",
    c"eglGetConfigs",
    c"eglGetError",
    c"eglInitialize",
    c"eglMakeCurrent",
    c"eglQueryContext",
    c"eglQueryString",
    c"eglQuerySurface",
    c"eglReleaseTexImage",
    c"eglReleaseThread",
    c"eglSurfaceAttrib",
    c"eglSwapBuffers",
    c"eglSwapInterval",
    c"eglTerminate",
    c"eglWaitClient",
    c"eglWaitGL",
    c"eglWaitNative",
];

#[test]
fn main_fills_the_imports_for_abi_0_and_refuses_another_major() {
    let i = loaded();
    assert!(i.get_platform_display.is_some());
    assert!(i.get_supports_api.is_some());
    assert!(i.get_vendor_string.is_some());
    assert!(i.get_dispatch_address.is_some());
    assert!(i.set_dispatch_index.is_some());
    assert!(i.is_patch_supported.is_null(), "no patching offered");

    let mut other = imports();
    let ok = unsafe { __egl_Main(1 << 16, std::ptr::null(), std::ptr::null_mut(), &mut other) };
    assert_eq!(ok, EGL_FALSE);
    assert!(other.get_proc_address.is_none());
    let ok = unsafe {
        __egl_Main(
            2,
            std::ptr::null(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    assert_eq!(ok, EGL_FALSE);
}

#[test]
fn every_core_entry_point_is_there_and_extensions_are_not() {
    let i = loaded();
    for name in CORE {
        assert!(!proc(&i, name).is_null(), "{name:?} missing");
    }
    assert!(proc(&i, c"eglCreateImage").is_null());
    assert!(proc(&i, c"eglQueryDisplayAttribEXT").is_null());
    assert!(unsafe { (i.get_proc_address.unwrap())(std::ptr::null()) }.is_null());
    assert!(unsafe { (i.get_dispatch_address.unwrap())(c"eglQueryDevicesEXT".as_ptr()) }.is_null());
}

#[test]
fn the_platforms_webkit_asks_for_are_offered() {
    let i = loaded();
    let platforms = text((i.get_vendor_string.unwrap())(
        VENDOR_STRING_PLATFORM_EXTENSIONS,
    ));
    for p in [
        "EGL_MESA_platform_surfaceless",
        "EGL_KHR_platform_gbm",
        "EGL_KHR_platform_x11",
    ] {
        assert!(
            platforms.split(' ').any(|e| e == p),
            "{p} not in {platforms}"
        );
    }
    assert!((i.get_vendor_string.unwrap())(1).is_null());
    let query: extern "C" fn(EglHandle, EglInt) -> *const c_char =
        unsafe { cast(proc(&i, c"eglQueryString")) };
    let client = text(query(std::ptr::null_mut(), EGL_EXTENSIONS));
    assert!(client.split(' ').any(|e| e == "EGL_EXT_client_extensions"));
    assert!(client
        .split(' ')
        .any(|e| e == "EGL_MESA_platform_surfaceless"));
    assert_eq!((i.get_supports_api.unwrap())(EGL_OPENGL_ES_API), EGL_TRUE);
    assert_eq!((i.get_supports_api.unwrap())(0x30A1), EGL_FALSE); // OpenVG
}

/// The lifecycle WebKit's web process goes through, and every way to ask
/// for GPU work failing with the error a driver without configs gives.
#[test]
fn a_display_initialises_but_yields_no_configs_contexts_or_surfaces() {
    let i = loaded();
    let d = unsafe {
        (i.get_platform_display.unwrap())(0x31DD, std::ptr::null_mut(), std::ptr::null())
    };
    assert!(!d.is_null());
    let same = unsafe { (i.get_platform_display.unwrap())(0x31D7, 8 as _, std::ptr::null()) };
    assert_eq!(d, same, "one display whatever the platform");

    type Init = unsafe extern "C" fn(EglHandle, *mut EglInt, *mut EglInt) -> EglBoolean;
    type Query = extern "C" fn(EglHandle, EglInt) -> *const c_char;
    type Choose = unsafe extern "C" fn(
        EglHandle,
        *const EglInt,
        *mut EglHandle,
        EglInt,
        *mut EglInt,
    ) -> EglBoolean;
    type Create = extern "C" fn(EglHandle, EglHandle, EglHandle, *const EglInt) -> EglHandle;
    type Pbuffer = extern "C" fn(EglHandle, EglHandle, *const EglInt) -> EglHandle;
    type Current = extern "C" fn(EglHandle, EglHandle, EglHandle, EglHandle) -> EglBoolean;
    type Error = extern "C" fn() -> EglInt;
    let (init, query, choose, create, pbuffer, current, error): (
        Init,
        Query,
        Choose,
        Create,
        Pbuffer,
        Current,
        Error,
    ) = unsafe {
        (
            cast(proc(&i, c"eglInitialize")),
            cast(proc(&i, c"eglQueryString")),
            cast(proc(&i, c"eglChooseConfig")),
            cast(proc(&i, c"eglCreateContext")),
            cast(proc(&i, c"eglCreatePbufferSurface")),
            cast(proc(&i, c"eglMakeCurrent")),
            cast(proc(&i, c"eglGetError")),
        )
    };

    // A handle that is not ours.
    let mut junk = 0u8;
    let other: EglHandle = std::ptr::addr_of_mut!(junk).cast();
    assert_eq!(
        unsafe { init(other, std::ptr::null_mut(), std::ptr::null_mut()) },
        EGL_FALSE
    );
    assert_eq!(error(), EGL_BAD_DISPLAY);
    assert_eq!(error(), EGL_SUCCESS, "reading the error clears it");

    let (mut major, mut minor) = (0, 0);
    assert_eq!(unsafe { init(d, &mut major, &mut minor) }, EGL_TRUE);
    assert_eq!((major, minor), (1, 5));
    assert!(text(query(d, EGL_VENDOR)).contains("Parley"));
    assert_eq!(text(query(d, EGL_EXTENSIONS)), "", "no display extensions");
    assert!(query(d, 0x1234).is_null());
    assert_eq!(error(), EGL_BAD_PARAMETER);

    let mut n = 7;
    let mut configs = [std::ptr::null_mut(); 4];
    let attribs = [0x3038]; // EGL_NONE
    assert_eq!(
        unsafe { choose(d, attribs.as_ptr(), configs.as_mut_ptr(), 4, &mut n) },
        EGL_TRUE
    );
    assert_eq!(n, 0);
    assert_eq!(
        unsafe {
            choose(
                d,
                attribs.as_ptr(),
                configs.as_mut_ptr(),
                4,
                std::ptr::null_mut(),
            )
        },
        EGL_FALSE
    );
    assert_eq!(error(), EGL_BAD_PARAMETER);

    assert!(create(
        d,
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        attribs.as_ptr()
    )
    .is_null());
    assert_eq!(error(), EGL_BAD_CONFIG);
    assert!(pbuffer(d, std::ptr::null_mut(), attribs.as_ptr()).is_null());
    assert_eq!(error(), EGL_BAD_CONFIG);

    let null = std::ptr::null_mut();
    assert_eq!(current(d, null, null, null), EGL_TRUE, "releasing is fine");
    assert_eq!(current(d, null, null, other), EGL_FALSE);
    assert_eq!(error(), EGL_BAD_CONTEXT);
    assert_eq!(current(d, other, other, null), EGL_FALSE);
    assert_eq!(error(), EGL_BAD_MATCH);

    // A call that works clears an earlier error.
    assert!(create(d, null, null, attribs.as_ptr()).is_null());
    assert_eq!(current(d, null, null, null), EGL_TRUE);
    assert_eq!(error(), EGL_SUCCESS);
}

#[test]
fn the_imports_table_is_the_headers_eleven_pointers() {
    assert_eq!(
        std::mem::size_of::<EglApiImports>(),
        11 * std::mem::size_of::<*const c_void>()
    );
    assert_eq!(
        std::mem::align_of::<EglApiImports>(),
        std::mem::align_of::<*const c_void>()
    );
}

#[test]
fn errors_are_per_thread() {
    set_error(EGL_BAD_MATCH);
    let there = std::thread::spawn(|| get_error()).join().unwrap();
    assert_eq!(there, EGL_SUCCESS);
    assert_eq!(get_error(), EGL_BAD_MATCH);
}
