/** The only way content is named (OCI image-spec descriptor). */
export interface Descriptor {
  mediaType: string;
  /** `sha256:<64 lowercase hex>` */
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}
