//! expect: E0560
//! libbinder_rs's BinderFeatures has no `set_inherit_rt`.
pub fn features() -> binder::BinderFeatures {
    binder::BinderFeatures {
        set_inherit_rt: true,
        ..Default::default()
    }
}
