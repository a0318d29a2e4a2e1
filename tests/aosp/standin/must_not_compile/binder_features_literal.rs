//! expect: E0063
//! BinderFeatures has a hidden `_non_exhaustive` field: a literal needs `..Default::default()`.
pub fn features() -> binder::BinderFeatures {
    binder::BinderFeatures {
        set_requesting_sid: true,
    }
}
