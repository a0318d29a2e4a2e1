//! expect: E0433
//! librustutils declares `system_properties` only for target_os = "android": a host variant
//! that names it does not build.
pub fn read() -> Option<String> {
    rustutils::system_properties::read("ro.build.type")
        .ok()
        .flatten()
}
