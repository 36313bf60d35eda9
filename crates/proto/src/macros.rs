//! A macro for the protocol's integer-coded enums, so each table is written once.

/// Defines a `#[repr(i32)]` enum with `as_i32`, `name` and `TryFrom<i32>` (which fails with the
/// given error constructor on values ZooKeeper does not define).
macro_rules! int_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident [$err:expr] {
            $( $(#[$vmeta:meta])* $variant:ident = $value:expr => $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(i32)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant = $value, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The value on the wire.
            pub const fn as_i32(self) -> i32 {
                self as i32
            }

            /// The name ZooKeeper's Java sources give this value.
            pub const fn name(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }
        }

        impl TryFrom<i32> for $name {
            type Error = crate::error::DecodeError;

            fn try_from(value: i32) -> Result<Self, crate::error::DecodeError> {
                match value {
                    $( v if v == $value => Ok($name::$variant), )+
                    other => Err(($err)(other)),
                }
            }
        }

        impl From<$name> for i32 {
            fn from(v: $name) -> i32 {
                v as i32
            }
        }
    };
}

pub(crate) use int_enum;

/// Gives an [`int_enum!`] type jute `Encode`/`Decode` as an `int`, so records can hold it typed.
macro_rules! int_enum_jute {
    ($name:ident) => {
        impl $crate::jute::Encode for $name {
            fn encode<B: bytes::BufMut>(&self, buf: &mut B) {
                bytes::BufMut::put_i32(buf, self.as_i32());
            }
        }

        impl $crate::jute::Decode for $name {
            const MIN_LEN: usize = 4;
            fn decode<B: bytes::Buf>(buf: &mut B) -> Result<Self, $crate::error::DecodeError> {
                $name::try_from($crate::jute::read_i32(buf)?)
            }
        }
    };
}

pub(crate) use int_enum_jute;
